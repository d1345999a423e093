"""Detections and the box arithmetic every detector shares (plain numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Detection", "iou", "nms", "per_class_nms"]


@dataclass(frozen=True)
class Detection:
    """One object: its label, score (0–1) and box as fractions of the image (x1, y1, x2, y2)."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def as_dict(self, width: int, height: int) -> dict:
        x1, y1, x2, y2 = self.box
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "box": [round(x1 * width, 1), round(y1 * height, 1), round(x2 * width, 1), round(y2 * height, 1)],
        }


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    overlap = max(x2 - x1, 0) * max(y2 - y1, 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        overlap = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
        union = area[best] + area[rest] - overlap
        order = rest[overlap <= iou * np.maximum(union, 1e-12)]
    return keep


def per_class_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    """NMS within each class; indices sorted by score, best first."""
    keep: list[int] = []
    for cls in np.unique(classes):
        idx = np.flatnonzero(classes == cls)
        keep.extend(int(idx[k]) for k in nms(boxes[idx], scores[idx], iou))
    return sorted(keep, key=lambda i: -scores[i])
