"""Recipes: how to feed a model and read its answer, by kind (plain numpy, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from actors.models import emotion, faces, movenet, nanodet

__all__ = ["Recipe", "RECIPES"]


@dataclass(frozen=True)
class Recipe:
    input_size: tuple[int, int]  # (height, width) the image is stretched (or padded) to
    preprocess: Callable[[np.ndarray], np.ndarray]  # uint8 RGB [N,H,W,3] → model input
    decode: Callable[[list[np.ndarray], float], Any]  # one image's outputs → detections, embedding…
    batchable: bool = True
    padded: bool = False  # the frame is padded to a square, top left, instead of stretched
    tap: str = ""  # an inner tensor to average into an embedding, instead of the outputs


RECIPES: dict[str, Recipe] = {
    "nanodet": Recipe((nanodet.INPUT_SIZE, nanodet.INPUT_SIZE), nanodet.preprocess, nanodet.decode),
    "blazeface": Recipe((faces.DETECT_SIZE, faces.DETECT_SIZE), faces.detect_preprocess, faces.detect_decode),
    "faceres": Recipe((faces.EMBED_SIZE, faces.EMBED_SIZE), faces.embed_preprocess, faces.embed_decode),
    "emotion": Recipe((emotion.SIZE, emotion.SIZE), emotion.preprocess, emotion.decode),
    "movenet": Recipe(
        (movenet.LIGHTNING_SIZE,) * 2, movenet.preprocess, movenet.decode_single, batchable=False, padded=True
    ),
    "movenet-thunder": Recipe(
        (movenet.THUNDER_SIZE,) * 2, movenet.preprocess, movenet.decode_single, batchable=False, padded=True
    ),
    # The image features of teach projects: centernet's COCO-trained MobileNetV3, its last
    # block averaged (120 numbers). Chosen over MoveNet's MobileNetV2 by measurement
    # (docs/cortexes.md, "Teach it").
    "centernet-embedding": Recipe(
        (512, 512),
        lambda images: images.astype(np.float32),
        lambda outputs, threshold: np.asarray(outputs[0], np.float32),
        batchable=False,
        tap="tower_0/MobilenetV3/expanded_conv_14/add",
    ),
    "movenet-multipose": Recipe(
        (movenet.MULTIPOSE_SIZE,) * 2, movenet.preprocess, movenet.decode_multi, batchable=False, padded=True
    ),
}


#: A trained teach head (hot-loaded, not configured): features [N,F] → probabilities [N,C].
HEAD = Recipe((0, 0), lambda features: np.asarray(features, np.float32), lambda outputs, threshold: outputs[0].tolist())
