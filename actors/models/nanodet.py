"""NanoDet (COCO) pre- and post-processing, measured recipe (plain numpy; tests/test_nanodet.py).

Input [N,3,416,416] float32, BGR, (x − mean) / std, the image stretched to 416².
Outputs per grid G ∈ {52, 26, 13}: scores [N,G²,80] (already sigmoid) and boxes
[N,G²,44] = 4 sides × 11 bins of logits (distribution focal loss).
"""

from __future__ import annotations

import numpy as np

from actors.models.coco import LABELS
from actors.models.detection import Detection, per_class_nms

__all__ = ["INPUT_SIZE", "preprocess", "decode"]

INPUT_SIZE = 416
_MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
_STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
_BINS = np.arange(11, dtype=np.float32)


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 RGB [N,416,416,3] → float32 BGR-normalised [N,3,416,416]."""
    x = images[..., ::-1].astype(np.float32)
    x -= _MEAN_BGR
    x /= _STD_BGR
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _grids(outputs: list[np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Pair each score tensor with the box tensor of the same grid, told apart by shape."""
    scores = {o.shape[0]: o for o in outputs if o.shape[-1] == len(LABELS)}
    boxes = {o.shape[0]: o for o in outputs if o.shape[-1] == 44}
    if len(scores) != 3 or scores.keys() != boxes.keys():
        raise ValueError(f"unexpected NanoDet outputs: {[o.shape for o in outputs]}")
    return [(int(round(cells**0.5)), scores[cells], boxes[cells]) for cells in sorted(scores, reverse=True)]


def decode(outputs: list[np.ndarray], threshold: float, iou: float = 0.5, max_detections: int = 50) -> list[Detection]:
    """One image's raw outputs (batch dimension removed) → detections, best first."""
    all_boxes, all_scores, all_classes = [], [], []
    for grid, scores, boxes in _grids(outputs):
        cells, classes = np.nonzero(scores > threshold)
        if not cells.size:
            continue
        stride = INPUT_SIZE / grid
        logits = boxes[cells].reshape(-1, 4, 11)
        logits = logits - logits.max(axis=-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=-1, keepdims=True)
        sides = (probs @ _BINS) * stride  # [K,4]: left, top, right, bottom
        cx = (cells % grid + 0.5) * stride
        cy = (cells // grid + 0.5) * stride
        box = np.stack([cx - sides[:, 0], cy - sides[:, 1], cx + sides[:, 2], cy + sides[:, 3]], axis=1)
        all_boxes.append(np.clip(box / INPUT_SIZE, 0.0, 1.0))
        all_scores.append(scores[cells, classes])
        all_classes.append(classes)
    if not all_boxes:
        return []
    boxes_ = np.concatenate(all_boxes)
    scores_ = np.concatenate(all_scores)
    classes_ = np.concatenate(all_classes)
    keep = per_class_nms(boxes_, scores_, classes_, iou)[:max_detections]
    return [Detection(LABELS[int(classes_[i])], float(scores_[i]), tuple(float(v) for v in boxes_[i])) for i in keep]
