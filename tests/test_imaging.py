"""Decoding eye snapshots safely: real photos, bombs, truncations, non-images."""

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from actors.imaging import ImageRejected, decode_for_model
from tests.helpers import png_claiming


def encode(array: np.ndarray, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def test_photo_is_stretched_to_the_model_size():
    coffee = skimage.data.coffee()  # 600 × 400
    pixels, width, height = decode_for_model(encode(coffee), (416, 416), 10_000_000)
    assert pixels.shape == (416, 416, 3) and pixels.dtype == np.uint8
    assert (width, height) == (600, 400)
    # the picture survives: mean colour close to the original's
    assert np.allclose(pixels.mean(axis=(0, 1)), coffee.mean(axis=(0, 1)), atol=6)


def test_large_jpeg_is_decoded_in_draft_mode_correctly():
    big = np.asarray(Image.fromarray(skimage.data.coffee()).resize((2400, 1600)))
    pixels, width, height = decode_for_model(encode(big), (416, 416), 10_000_000)
    assert (width, height) == (2400, 1600)
    assert np.allclose(pixels.mean(axis=(0, 1)), big.mean(axis=(0, 1)), atol=6)


def test_png_over_max_pixels_is_refused_from_its_header():
    with pytest.raises(ImageRejected, match=r"8000×6000 pixels, over the limit of 40000000"):
        decode_for_model(png_claiming(8000, 6000), (416, 416), 40_000_000)


def test_png_claiming_gigapixels_is_refused_as_a_bomb():
    with pytest.raises(ImageRejected, match=r"too large to decode safely .*at most 40000000 pixels"):
        decode_for_model(png_claiming(100_000, 100_000), (416, 416), 40_000_000)


def test_truncated_jpeg_is_refused():
    whole = encode(skimage.data.astronaut())
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        decode_for_model(whole[: len(whole) // 2], (416, 416), 10_000_000)


@pytest.mark.parametrize("data", [b"hello", b"\xff\xd8\xff\xe0 not really", b""])
def test_non_images_are_refused(data):
    with pytest.raises(ImageRejected):
        decode_for_model(data, (416, 416), 10_000_000)
