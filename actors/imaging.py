"""Decode an eye's snapshot safely and cheaply, as a model input (Pillow + numpy)."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageRejected", "decode_for_model", "open_rgb"]


class ImageRejected(ValueError):
    """The bytes are not an image we can use; str() is a sentence for the person."""


def open_rgb(data: bytes, max_pixels: int, min_side: int = 0) -> Image.Image:
    """Encoded image → RGB Pillow image, checked against max_pixels from its header.

    With `min_side`, a JPEG is decoded at the smallest scale (draft mode: 1/2, 1/4,
    1/8) that keeps both sides at least that long: a big photo costs a fraction.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"The image is {width}×{height} pixels, over the limit of "
                    f"{max_pixels} (the cortex's max_pixels); send a smaller snapshot."
                )
            if image.format == "JPEG" and min_side:
                image.draft("RGB", (min_side, min_side))
            image = image.convert("RGB")
            image.load()
            image.info["original_size"] = (width, height)
            return image
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            f"The image is too large to decode safely ({exc}); send a snapshot of at most {max_pixels} pixels."
        ) from None
    except UnidentifiedImageError as exc:
        raise ImageRejected(f"That is not an image I can read ({exc}); send a JPEG, PNG or WebP.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(f"The image is truncated or corrupt ({exc}); send the whole file.") from None


def decode_for_model(
    data: bytes, size: tuple[int, int], max_pixels: int, padded: bool = False
) -> tuple[np.ndarray, int, int]:
    """Encoded image → (uint8 RGB [H,W,3] stretched to `size` (height, width), original width, height).

    `padded`: scaled to fit instead, at the top left, the rest black; a fraction f of the
    model's input is then f × max(original width, height) pixels of the original.

    The pixel count is checked from the header before any pixel is decoded (a
    decompression bomb costs nothing), and JPEGs are decoded at a reduced scale
    (draft mode) when the model wants far fewer pixels than the photo has.
    """
    height, width = size
    image = open_rgb(data, max_pixels, min_side=max(height, width))
    original_width, original_height = image.info["original_size"]
    if padded:
        scale = min(width / image.width, height / image.height)
        fitted = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR
        )
        square = Image.new("RGB", (width, height))
        square.paste(fitted, (0, 0))
        return np.asarray(square, dtype=np.uint8), original_width, original_height
    resized = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8), original_width, original_height
