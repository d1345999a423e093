"""MoveNet (body keypoints): measured recipes (their tests: tests/test_pose.py).

Single-pose (lightning 192², thunder 256²): input [1,S,S,3] int32 RGB 0..255, the frame
padded to a square (never stretched: a stretched body has other proportions); output
[1,1,17,3] = (y, x, score) as fractions of the padded input, in COCO order
(actors/cortexes/pose/body.py names them), left before right (the subject's own left). Its graph starts by unpacking one image, so it does not
batch: a batch is run as a loop (see TfjsGraphModel, batchable=False).

Multipose (256² here): output [1,6,56]: six people, each 17 × (y, x, score), then a box
(ymin, xmin, ymax, xmax) and the person's score. It does not batch either (its graph
squeezes the batch away); it costs about twice lightning's time but finds up to six people.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LIGHTNING_SIZE",
    "THUNDER_SIZE",
    "MULTIPOSE_SIZE",
    "preprocess",
    "decode_single",
    "decode_multi",
]


LIGHTNING_SIZE = 192
THUNDER_SIZE = 256
MULTIPOSE_SIZE = 256


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 RGB [N,S,S,3], padded to a square → int32 0..255."""
    return images.astype(np.int32)


def _xy_score(rows: np.ndarray) -> np.ndarray:
    """[17,3] (y, x, score) → float32 [17,3] (x, y, score), fractions of the padded square."""
    return np.asarray(rows, np.float32)[:, [1, 0, 2]]


def decode_single(outputs: list[np.ndarray], threshold: float) -> list[np.ndarray]:
    """One image's single-pose output → [the person] when enough of the body is seen
    (mean keypoint score ≥ threshold), else []. Each person: [17,3] (x, y, score)."""
    (output,) = outputs
    person = _xy_score(np.reshape(output, (17, 3)))
    return [person] if float(person[:, 2].mean()) >= threshold else []


def decode_multi(outputs: list[np.ndarray], threshold: float) -> list[np.ndarray]:
    """One image's multipose output → the people whose score ≥ threshold, left to right."""
    (output,) = outputs
    rows = np.reshape(output, (-1, 56))
    people = [_xy_score(row[:51].reshape(17, 3)) for row in rows if float(row[55]) >= threshold]
    return sorted(people, key=lambda p: float(np.median(p[:, 0])))
