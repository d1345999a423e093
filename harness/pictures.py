"""Pictures for tests and benchmarks: two photos of people (public domain, CC0), frames
and JPEGs of them, another take of a photo, and tiny headers of each image format."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import skimage.data
from PIL import Image, ImageEnhance

ASTRONAUT = Image.fromarray(skimage.data.astronaut())  # Eileen Collins, NASA, public domain


CAMERAMAN = Image.fromarray(skimage.data.camera()).convert("RGB")  # CC0, another person


def frame(image: Image.Image) -> bytes:
    return jpeg(np.asarray(image))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def variant(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another take of a photo: cropped, turned a little, lit differently."""
    width, height = image.size
    scale = rng.uniform(0.7, 0.95)
    w, h = int(width * scale), int(height * scale)
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    out = image.crop((x, y, x + w, y + h)).rotate(float(rng.uniform(-10, 10)))
    return ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.75, 1.25)))
