"""Decoding eye snapshots safely: real photos, bombs, truncations, non-images."""

import io

import numpy as np
import pytest
import skimage.data
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from actors.imaging import ImageRejected, decode_for_model, image_size, open_rgb
from harness.pictures import png_claiming


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


# -- image_size: the header's width and height, read without decoding (the gateway's check) --


def encoded(fmt: str, size=(321, 123), mode="RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "orange").save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        encoded("JPEG"),
        encoded("JPEG", progressive=True),
        encoded("JPEG", mode="L"),
        encoded("JPEG", mode="CMYK"),
        encoded("JPEG", exif=b"Exif\x00\x00" + b"\x00" * 30_000),
        encoded("PNG"),
        encoded("PNG", mode="RGBA"),
        encoded("WEBP"),
        encoded("WEBP", lossless=True),
        encoded("WEBP", mode="RGBA"),
        encoded("WEBP", exif=b"Exif\x00\x00" + b"\x00" * 100),
    ],
)
def test_image_size_agrees_with_pillow(data):
    assert image_size(data) == Image.open(io.BytesIO(data)).size == (321, 123)


def test_image_size_of_a_real_photo_and_of_a_claiming_png():
    assert image_size(encode(skimage.data.astronaut())) == (512, 512)
    assert image_size(png_claiming(6000, 6000)) == (6000, 6000)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"\xff\xd8\xff\xe0 not really", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32,
     b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32, encoded("JPEG")[:40]],
)  # fmt: skip
def test_image_size_is_none_when_the_header_does_not_say(data):
    assert image_size(data) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]))
def test_image_size_never_raises(tail, magic):
    size = image_size(magic + tail)
    assert size is None or (len(size) == 2 and all(isinstance(n, int) and n >= 0 for n in size))


def test_a_big_png_is_handed_on_reduced_to_what_the_model_needs():
    big = np.asarray(Image.fromarray(skimage.data.coffee()).resize((2400, 1600)))
    image = open_rgb(encode(big, "PNG"), 10_000_000, min_side=416)
    assert image.info["original_size"] == (2400, 1600)
    assert min(image.size) >= 416 and image.size[0] <= 1200  # reduced at once, as JPEG draft mode does
