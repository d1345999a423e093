"""Decode an eye's snapshot safely and cheaply, as a model input (Pillow + numpy)."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageRejected", "decode_for_model", "image_size", "open_rgb"]

#: JPEG markers that start a frame and carry its size (SOF0–SOF15 but DHT, JPG and DAC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers with no length after them: TEM, RST0–RST7, SOI (and fill bytes 0xFF).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9), 0xFF})


class ImageRejected(ValueError):
    """The bytes are not an image we can use; str() is a sentence for the person."""


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as a JPEG, PNG or WebP header states it, read without decoding a
    pixel (no Pillow: pure and cheap, for the gateway), or None when the header does not
    say (too short, malformed, or another format). Never raises."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
    except struct.error:  # (cut short)
        pass
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14 bits each after the start code
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":  # lossless: 14 bits each, minus one
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: the canvas, 24 bits each, minus one
        width, height = data[24:27], data[27:30]
        if len(height) == 3:
            return int.from_bytes(width, "little") + 1, int.from_bytes(height, "little") + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the segments after SOI to the first start of frame."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in _STANDALONE:
            at += 1 if marker == 0xFF else 2
            continue
        if marker == 0xDA:  # start of scan before any frame: no size
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if length < 2:
            return None
        at += 2 + length
    return None


def open_rgb(data: bytes, max_pixels: int, min_side: int = 0) -> Image.Image:
    """Encoded image → RGB Pillow image, checked against max_pixels from its header.

    With `min_side`, a JPEG is decoded at the smallest scale (draft mode: 1/2, 1/4,
    1/8) that keeps both sides at least that long: a big photo costs a fraction. Other
    formats cannot be decoded scaled; they are reduced as soon as they are decoded, so
    what the cortex keeps and works on is no bigger than for a JPEG.
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
            image.load()
            if image.mode != "RGB":  # (convert() of an RGB image would copy it for nothing)
                image = image.convert("RGB")
            if min_side and (factor := min(8, min(image.size) // min_side)) > 1:
                image = image.reduce(factor)
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
