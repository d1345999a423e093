"""Who is who from one frame to the next: each person in view gets an integer id that stays theirs.

Each frame gives the people a pose model found, a box [x1, y1, x2, y2] and 17 keypoints
[x, y, score] each, in the frame's pixels. `Tracker.update(found, now)` returns them with
their ids, left to right. A person is matched to a track by an optimal assignment (scipy's
`linear_sum_assignment`) over a cost mixing box overlap (1 - IoU) and keypoint distance (over
the keypoints seen in both, in the track's size), both measured against where the track
should be *now*: its last place moved on at its own speed. That is what keeps two people who
cross apart: when their boxes swap sides, each track is looked for ahead of itself, not where
the other now stands.

A person missed for up to `keep_s` keeps their id and comes back with it; later they get a new
one. Ids come from a counter and are never reused. Pure: the time is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["TrackSettings", "Found", "Tracked", "Tracker", "box_around"]

_NO_MATCH = 1e6  # a pair over the threshold; finite, as linear_sum_assignment needs


@dataclass(frozen=True)
class TrackSettings:
    # Seconds rather than frames: an eye's frame rate varies (5/s by default, fewer when
    # frames are dropped as the latest wins), and "missed for a moment" is a time.
    keep_s: float = 1.0  # a person missed this long keeps their id (5 frames at 5 snapshots/s)
    max_cost: float = 0.75  # a match costs at most this: 0 is the same box and pose, 1 nothing shared
    box_weight: float = 0.5  # the cost's share from the boxes (1 - IoU); the rest from keypoint distance
    min_score: float = 0.3  # a keypoint this sure is seen (as the pose cortex's min_score)
    min_shared: int = 3  # keypoints seen in both needed for their distance to count; fewer: boxes alone
    predict_s: float = 0.4  # a track is moved on at its speed for at most this long (two frames at 5/s)
    speed_smoothing: float = 0.5  # a new speed counts this much, the old one the rest (jittery boxes)
    max_tracks: int = 64  # tracks kept at most (a flood of strangers); beyond, the longest unseen go


@dataclass(frozen=True, eq=False)
class Found:
    """One person as the model found them in a frame."""

    box: Sequence[float]  # [x1, y1, x2, y2], frame pixels
    keypoints: np.ndarray  # [17, 3]: x, y, score


@dataclass(frozen=True, eq=False)
class Tracked:
    """One person in this frame, with their id."""

    id: int
    box: tuple[float, float, float, float]
    keypoints: np.ndarray  # [17, 3], as found


@dataclass(eq=False)
class _Track:
    id: int
    box: np.ndarray  # [4]
    keypoints: np.ndarray  # [17, 3]
    seen_at: float
    speed: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, pixels a second
    hits: int = 1


def box_around(keypoints: np.ndarray, min_score: float, margin: float = 0.1) -> tuple[float, ...] | None:
    """A box around the seen keypoints, grown by `margin` of its size on each side, or None
    when none is seen: for people that come without a box (the page's own pose estimate)."""
    points = np.asarray(keypoints, np.float64)
    seen = points[points[:, 2] >= min_score, :2]
    if not len(seen):
        return None
    (x1, y1), (x2, y2) = seen.min(axis=0), seen.max(axis=0)
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    return (float(x1 - dx), float(y1 - dy), float(x2 + dx), float(y2 + dy))


def _centre(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[T,4] × [D,4] → [T,D]."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area = lambda boxes: np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(axis=1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return inter / np.maximum(union, 1e-9)


class Tracker:
    """`update(found, now)` → the people in this frame with stable ids, left to right."""

    def __init__(self, settings: TrackSettings | None = None):
        self.settings = settings or TrackSettings()
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def ids(self) -> frozenset[int]:
        """The ids still kept: in view, or missed for less than keep_s. What a person's other
        state (their filters, their gestures) should be kept for, and dropped without."""
        return frozenset(track.id for track in self._tracks)

    @property
    def boxes(self) -> list[tuple[float, ...]]:
        """Where every kept person was last seen, the missed ones too: where to look for
        them in the next frame (a person missed once is looked for again, not lost)."""
        return [tuple(float(v) for v in track.box) for track in self._tracks]

    def update(self, found: Sequence[Found], now: float) -> list[Tracked]:
        s = self.settings
        self._tracks = [t for t in self._tracks if now - t.seen_at <= s.keep_s]
        boxes = np.array([np.asarray(f.box, np.float64) for f in found]).reshape(-1, 4)
        keypoints = np.array([np.asarray(f.keypoints, np.float64) for f in found]).reshape(-1, 17, 3)
        pairs = self._match(boxes, keypoints, now)
        matched = set()
        out = []
        for t, d in pairs:
            track = self._tracks[t]
            self._move(track, boxes[d], keypoints[d], now)
            matched.add(d)
            out.append(track)
        for d in range(len(found)):
            if d not in matched:  # nobody kept looks like them: somebody new
                track = _Track(self._next_id, boxes[d], keypoints[d], now)
                self._next_id += 1
                self._tracks.append(track)
                out.append(track)
        if len(self._tracks) > s.max_tracks:
            self._tracks.sort(key=lambda t: t.seen_at, reverse=True)
            del self._tracks[s.max_tracks :]
        out.sort(key=lambda t: (_centre(t.box)[0], t.id))
        return [Tracked(t.id, tuple(float(v) for v in t.box), t.keypoints) for t in out]

    def _match(self, boxes: np.ndarray, keypoints: np.ndarray, now: float) -> list[tuple[int, int]]:
        """The optimal (track, found) pairs whose cost is within max_cost."""
        if not self._tracks or not len(boxes):
            return []
        s = self.settings
        ahead = np.array([min(max(now - t.seen_at, 0.0), s.predict_s) for t in self._tracks])
        shift = np.array([t.speed for t in self._tracks]) * ahead[:, None]  # [T,2]
        t_boxes = np.array([t.box for t in self._tracks]) + np.tile(shift, 2)
        t_points = np.array([t.keypoints for t in self._tracks])
        t_points[:, :, :2] += shift[:, None, :]

        box_cost = 1 - _iou(t_boxes, boxes)  # [T,D]
        distance = np.linalg.norm(t_points[:, None, :, :2] - keypoints[None, :, :, :2], axis=3)  # [T,D,17]
        both = (t_points[:, None, :, 2] >= s.min_score) & (keypoints[None, :, :, 2] >= s.min_score)
        shared = both.sum(axis=2)
        mean = np.where(both, distance, 0).sum(axis=2) / np.maximum(shared, 1)
        sides = np.clip(t_boxes[:, 2:] - t_boxes[:, :2], 1.0, None)
        size = np.sqrt(sides.prod(axis=1))[:, None]  # the track's size, so near and far people weigh alike
        point_cost = np.clip(mean / size, 0, 1)
        cost = np.where(
            shared >= s.min_shared, s.box_weight * box_cost + (1 - s.box_weight) * point_cost, box_cost
        )  # a person cut by the frame's edge shares few keypoints: their box alone says
        cost = np.where(cost <= s.max_cost, cost, _NO_MATCH)
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] <= s.max_cost]

    def _move(self, track: _Track, box: np.ndarray, keypoints: np.ndarray, now: float) -> None:
        dt = now - track.seen_at
        if dt > 0:
            speed = (_centre(box) - _centre(track.box)) / dt
            # The first speed is taken whole: a person who walks in is not assumed to stand.
            k = 1.0 if track.hits == 1 else self.settings.speed_smoothing
            track.speed = k * speed + (1 - k) * track.speed
        track.box, track.keypoints, track.seen_at = box, keypoints, now
        track.hits += 1
