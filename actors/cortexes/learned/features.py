"""What a teach head learns from, and how its data is split and judged (pure numpy + Pillow).

- pose: the body's 17 keypoints normalised (pose/body.py), 34 numbers: a person's body,
  not their clothes or the room; a mirrored pose is the same person seen in a mirror.
- image: an embedding computed by a model (the holder's, or the trainer's own copy);
  augmented here as pictures (crop, rotate, translate, brightness) before embedding.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from actors.cortexes.pose.body import INDEX, normalise

__all__ = ["pose_vector", "mirrored", "augment_image", "split", "confusion", "per_class_accuracy"]

_MIRROR = [INDEX[n.replace("left", "@").replace("right", "left").replace("@", "right")] for n in INDEX]


def pose_vector(person: np.ndarray) -> np.ndarray:
    """[17,3] keypoints → 34 numbers, where and how big the body is left out."""
    return normalise(person).astype(np.float32).reshape(-1)


def mirrored(vector: np.ndarray) -> np.ndarray:
    """The pose seen in a mirror: x negated, left and right swapped."""
    points = vector.reshape(17, 2)[_MIRROR].copy()
    points[:, 0] *= -1
    return points.reshape(-1)


def augment_image(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A plausible other take of the same scene: cropped, turned, shifted, lit differently."""
    width, height = image.size
    scale = rng.uniform(0.75, 1.0)
    w, h = int(width * scale), int(height * scale)
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    out = image.crop((x, y, x + w, y + h)).rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
    shift = (int(rng.integers(-w // 10, w // 10 + 1)), int(rng.integers(-h // 10, h // 10 + 1)))
    out = out.rotate(0, translate=shift)
    return ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.7, 1.3)))


def split(labels: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices for training and validation: `fraction` of each class held out (at least one
    of each class with two samples or more), the same for the same seed."""
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        rng.shuffle(members)
        held = max(1, round(len(members) * fraction)) if len(members) >= 2 else 0
        validation += members[:held]
        train += members[held:]
    return sorted(train), sorted(validation)


def confusion(truth: list[int], predicted: list[int], classes: int) -> list[list[int]]:
    """matrix[true][predicted] counts."""
    matrix = [[0] * classes for _ in range(classes)]
    for t, p in zip(truth, predicted):
        matrix[t][p] += 1
    return matrix


def per_class_accuracy(matrix: list[list[int]]) -> list[float | None]:
    return [round(row[i] / sum(row), 3) if sum(row) else None for i, row in enumerate(matrix)]
