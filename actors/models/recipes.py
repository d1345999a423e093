"""Recipes: how to feed a model and read its answer, by kind (plain numpy, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from actors.models import nanodet
from actors.models.detection import Detection

__all__ = ["Recipe", "RECIPES"]


@dataclass(frozen=True)
class Recipe:
    input_size: tuple[int, int]  # (height, width) the image is stretched to
    preprocess: Callable[[np.ndarray], np.ndarray]  # uint8 RGB [N,H,W,3] → model input
    decode: Callable[[list[np.ndarray], float], list[Detection]]  # one image's outputs → detections
    batchable: bool = True


RECIPES: dict[str, Recipe] = {
    "nanodet": Recipe((nanodet.INPUT_SIZE, nanodet.INPUT_SIZE), nanodet.preprocess, nanodet.decode),
}
