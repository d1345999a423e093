"""Emotion (`emotion.json` of the pinned package): the measured recipe (../shared/MODELS.md,
"Emotion"; its tests: tests/test_emotion.py).

Input [N,64,64,1]: a grey crop of the face, BlazeFace's box made square, not enlarged,
scaled to −1..1 (0..1 also works; −1..1 was more decisive). Output [N,7]: probabilities,
in CLASSES' order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASSES", "SIZE", "preprocess", "decode"]

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SIZE = 64  # pixels a side
_GREY = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as Pillow's "L"


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 RGB [N,64,64,3] → float32 grey −1..1 [N,64,64,1]."""
    grey = images[..., :3].astype(np.float32) @ _GREY
    return (grey / 127.5 - 1.0)[..., None]


def decode(outputs: list[np.ndarray], threshold: float = 0.0) -> dict[str, float]:
    """One face's output → {class: probability}."""
    return {name: float(p) for name, p in zip(CLASSES, outputs[0], strict=True)}
