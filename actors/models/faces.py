"""BlazeFace (face boxes) and FaceRes (face embeddings): measured recipes (their tests: tests/test_faces.py).

BlazeFace: input [N,256,256,3] RGB scaled to −1..1, the image stretched. 896 anchors:
16×16 cells × 2 (stride 16), then 8×8 cells × 6 (stride 32), each predicting 17
values: score logit, centre offset (x, y), size (w, h), 6 landmarks — in 256-px units.
FaceRes: input [N,224,224,3] RGB 0..255 (other scalings silently break it); the
1024-d `global_pooling/Mean` is the embedding, compared by cosine similarity.
"""

from __future__ import annotations

import numpy as np

from actors.models.detection import Detection, nms

__all__ = [
    "DETECT_SIZE",
    "EMBED_SIZE",
    "detect_preprocess",
    "detect_decode",
    "embed_preprocess",
    "embed_decode",
    "crop_box",
    "cosine",
]

DETECT_SIZE = 256
EMBED_SIZE = 224
EMBEDDING = "global_pooling/Mean"


def _anchors() -> np.ndarray:
    rows = []
    for grid, stride, per_cell in ((16, 16, 2), (8, 32, 6)):
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1).reshape(-1, 2)
        rows.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(rows).astype(np.float32)


_ANCHORS = _anchors()  # [896, 2] in 256-px units


def detect_preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 RGB [N,256,256,3] → float32 −1..1."""
    return images.astype(np.float32) / 127.5 - 1.0


def detect_decode(outputs: list[np.ndarray], threshold: float, iou: float = 0.3) -> list[Detection]:
    """One image's BlazeFace outputs (told apart by shape) → faces, best first."""
    by_shape = {o.shape: o for o in outputs}
    try:
        rows = np.concatenate(
            [
                np.concatenate([by_shape[(512, 1)], by_shape[(512, 16)]], axis=1),
                np.concatenate([by_shape[(384, 1)], by_shape[(384, 16)]], axis=1),
            ]
        )
    except KeyError:
        raise ValueError(f"unexpected BlazeFace outputs: {[o.shape for o in outputs]}") from None
    scores = 1.0 / (1.0 + np.exp(-np.clip(rows[:, 0], -80, 80)))
    keep = np.flatnonzero(scores > threshold)
    if not keep.size:
        return []
    centres = rows[keep, 1:3] + _ANCHORS[keep]
    sizes = rows[keep, 3:5]
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1) / DETECT_SIZE
    boxes = np.clip(boxes, 0.0, 1.0)
    chosen = nms(boxes, scores[keep], iou)
    return [Detection("face", float(scores[keep][i]), tuple(float(v) for v in boxes[i])) for i in chosen]


def crop_box(
    box: tuple[float, float, float, float], width: int, height: int, enlarge: float = 1.4
) -> tuple[int, int, int, int]:
    """A face box (fractions) → the square pixel crop FaceRes wants: enlarged about its centre.

    BlazeFace sees the frame stretched to 256² and predicts square boxes there, so on a
    landscape frame the box comes back too wide (portrait: too tall); the shorter side
    is the true face size.
    """
    x1, y1, x2, y2 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    side = min(x2 - x1, y2 - y1) * enlarge
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return (int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(cx + side / 2)), int(round(cy + side / 2)))


def embed_preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 RGB [N,224,224,3] → float32 0..255 (FaceRes wants raw pixel values)."""
    return images.astype(np.float32)


def embed_decode(outputs: list[np.ndarray], threshold: float = 0.0) -> np.ndarray:
    """One face's FaceRes outputs → its 1024-d embedding (the only 1024-wide output)."""
    for output in outputs:
        if output.shape == (1024,):
            return output.astype(np.float32)
    raise ValueError(f"no 1024-d embedding among FaceRes outputs {[o.shape for o in outputs]}")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
