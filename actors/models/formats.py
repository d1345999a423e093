"""Model file formats, told apart by name (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FORMATS", "format_of"]

FORMATS = ("tfjs", "savedmodel", "keras", "tflite")


def format_of(path: str | Path) -> str:
    """The format a path's name implies; ValueError if it implies none."""
    path = Path(path)
    if path.suffix == ".json":
        return "tfjs"
    if path.suffix in (".keras", ".h5"):
        return "keras"
    if path.suffix == ".tflite":
        return "tflite"
    if path.is_dir():
        return "savedmodel"
    raise ValueError(f"cannot tell the model format of {path}; set format in its [[model]] stanza")
