"""Where to look for people in a frame: one square crop per person, for single-pose MoveNet.

Single-pose MoveNet sees one person; on a group it returns one skeleton blended from several.
Its own documented way to see several is to run it on each person's crop. The crops come
from two places:

- person boxes from the objects cortex (the COCO detector already runs on every frame for
  its labels: its boxes are reused, never detected twice);
- the people tracked in the last frame: the box around their seen keypoints (MoveNet's
  own "cropping from the previous frame"), so a person keeps being seen between the
  detector's boxes, and without a detector.

A tracked box that a detector box overlaps (or holds) is the same person and adds no crop; a
detector box that holds two tracked people is two people, each cropped alone. With
neither (the first frame, or no objects cortex), the whole frame is one crop: exactly what
the pose cortex did before it saw several people. Each crop is a square a little larger than
its box (people move between frames, and MoveNet wants some room around a body), which may
run past the frame's edge: the part outside is black, as MoveNet's padding is.

Pure: boxes in, squares out; `people_in` merges what the crops found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from actors.models.detection import iou, nms

__all__ = ["CropSettings", "Square", "plan", "wait_for_boxes", "whole_frame", "decode_side", "to_frame", "same_people"]

Box = Sequence[float]  # [x1, y1, x2, y2], frame pixels
CONTAINED = 0.8  # a box this much inside another is the same person


@dataclass(frozen=True)
class CropSettings:
    margin: float = 1.3  # a crop's side: this × the longer side of a detector's person box
    # … and of a tracked person's: their keypoints' box holds only what was seen (a body whose
    # hips were missed would be cropped above them, and lose them for good: measured on the
    # cameraman, lean_left was lost from the second frame at 1.3, kept at 1.6 and 1.9)
    tracked_margin: float = 1.6
    same_iou: float = 0.3  # a detector box overlapping a tracked one this much is that person
    max_crops: int = 6  # crops per frame at most (each costs one MoveNet run)
    min_side: float = 48.0  # pixels: a box narrower than this is nobody MoveNet could read


@dataclass(frozen=True)
class Square:
    """A square region of the frame, in pixels; it may run past the frame's edges."""

    x: float
    y: float
    side: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.side, self.y + self.side)


def whole_frame(width: int, height: int) -> Square:
    """The frame padded to a square at its top left, as the pose model saw it before."""
    return Square(0.0, 0.0, float(max(width, height)))


def _around(box: Box, margin: float) -> Square:
    side = max(box[2] - box[0], box[3] - box[1]) * margin
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return Square(cx - side / 2, cy - side / 2, side)


def plan(
    tracked: Sequence[Box], detected: Sequence[Box], width: int, height: int, settings: CropSettings = CropSettings()
) -> list[Square]:
    """The crops to run MoveNet on: each detected person's (the detector's order, surest
    first: its box holds the whole body, where the keypoints of the last frame may have
    held only what was seen), then each tracked person no detector box holds; the whole
    frame when there is neither. A detector box that holds two or more tracked people is a
    group the detector saw as one (two people one behind the other): their own crops run
    instead, as one crop around both would give one skeleton blended from the two."""
    tracked = [box for box in tracked if _clipped_side(box, width, height) >= settings.min_side]
    boxes = []
    for box in detected:
        if _clipped_side(box, width, height) < settings.min_side:
            continue
        if sum(_same(box, other, settings.same_iou) for other in tracked) >= 2:
            continue
        boxes.append((box, settings.margin))
    boxes += [(box, settings.tracked_margin) for box in tracked]
    kept: list[tuple[Box, float]] = []
    for box, margin in boxes:
        if all(not _same(box, other, settings.same_iou) for other, _ in kept):
            kept.append((box, margin))
    if not kept:
        return [whole_frame(width, height)]
    return [_around(box, margin) for box, margin in kept[: settings.max_crops]]


def wait_for_boxes(tracked: Sequence[Box], boxes_fresh: bool, hears_boxes: bool) -> bool:
    """Whether a frame waits for the objects cortex's next boxes (it is on this frame, or
    on the one before, a detector's time away) rather than going to MoveNet whole: when nobody is
    tracked and the last boxes are stale (the first frame after a pause; an eye that sends
    a frame every few seconds, whose boxes are always stale). The whole frame alone finds
    one person at most, and none among many small ones (30 people in a grid: silence)."""
    return hears_boxes and not tracked and not boxes_fresh


def _same(a: Box, b: Box, same_iou: float) -> bool:
    """Whether two boxes are one person: they overlap enough, or one lies (almost) inside
    the other (the box around a half-seen body, inside the detector's)."""
    if iou(a, b) >= same_iou:
        return True
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w > 0 and h > 0 and smaller > 0 and w * h / smaller >= CONTAINED


def _clipped_side(box: Box, width: int, height: int) -> float:
    """The shorter side of the part of `box` inside the frame."""
    w = min(box[2], width) - max(box[0], 0)
    h = min(box[3], height) - max(box[1], 0)
    return min(w, h)


def decode_side(width: int, height: int, squares: Sequence[Square], input_side: int) -> int:
    """The shorter side a JPEG may be decoded at (actors/imaging.py's draft mode) so that
    every crop still has at least the model's `input_side` pixels: a frame of one person
    close up is decoded at a quarter of its pixels, as the whole-frame way did."""
    smallest = min(square.side for square in squares)
    return min(min(width, height), int(np.ceil(min(width, height) * input_side / smallest)))


def to_frame(points: np.ndarray, square: Square) -> np.ndarray:
    """Keypoints [17, 3] in fractions of a crop → the frame's pixels (scores unchanged)."""
    out = np.array(points, np.float64)
    out[:, 0] = square.x + out[:, 0] * square.side
    out[:, 1] = square.y + out[:, 1] * square.side
    return out


def same_people(boxes: Sequence[Box], scores: Sequence[float], same_iou: float = 0.5) -> list[int]:
    """Which of the people the crops found to keep: two crops of one person (two people
    close together, the one in front seen in both) give two skeletons over each other;
    the surer one stays (the detectors' non-maximum suppression). Indices, in their order."""
    if not len(boxes):
        return []
    return sorted(nms(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64), same_iou))
