"""Steadier keypoints: a One Euro filter per keypoint coordinate, and one set of them per person.

The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) is a low-pass filter whose cutoff rises
with speed: a still point is smoothed hard (its jitter goes), a moving one lightly (it does not
lag). cutoff = min_cutoff + beta × |speed|, the speed itself low-passed at d_cutoff. As
MediaPipe's landmark smoother does, the speed is measured in the person's size a second, so
one setting fits a person near the camera and one far from it. Pure: the time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from actors.cortexes.pose.tracking import Tracked

__all__ = ["OneEuroSettings", "OneEuroFilter", "KeypointSmoother"]


@dataclass(frozen=True)
class OneEuroSettings:
    # Chosen by measurement at 5 frames a second (tests/test_smoothing.py): a still keypoint
    # jittering by 1 % of the person's size keeps 0.31 of its spread (0.40 at 2 %); a hand moving
    # one person's size a second lags 60 ms (a third of a frame), a slow one (0.3 a second) 150 ms.
    # A higher min_cutoff follows slow moves sooner and keeps more jitter (0.2 Hz: 0.43, 134 ms).
    min_cutoff: float = 0.05  # Hz, for a still point: lower is steadier and slower to follow
    beta: float = 2.0  # how fast the cutoff rises with speed (in sizes a second): higher lags less
    d_cutoff: float = 1.0  # Hz, for the speed itself (the paper's value)


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
    """An exponential smoother's weight for the new value, for a cutoff (Hz) and a step dt (s)."""
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array of values (e.g. a person's [17, 2] coordinates), each on its own."""

    def __init__(self, settings: OneEuroSettings | None = None):
        self.settings = settings or OneEuroSettings()
        self._value: np.ndarray | None = None  # the last filtered value
        self._speed: np.ndarray | None = None  # its filtered speed, in `size` a second
        self._at: np.ndarray | None = None  # when each value was last updated

    def __call__(self, now: float, value: np.ndarray, size: float = 1.0, seen: np.ndarray | None = None) -> np.ndarray:
        """The filtered value. Only where `seen` (broadcast to value's shape) is true does the
        filter move; elsewhere it holds what it had (a value never seen passes through)."""
        value = np.asarray(value, np.float64)
        update = np.ones(value.shape, bool) if seen is None else np.broadcast_to(seen, value.shape)
        if self._value is None or self._value.shape != value.shape:
            self._value, self._speed = value.copy(), np.zeros(value.shape)
            self._at = np.where(update, now, -np.inf)
            return value.copy()
        new = update & ~np.isfinite(self._at)  # first seen now: start from it
        dt = now - self._at
        move = update & ~new & (dt > 0)  # (no time passed: nothing new to learn)
        dt = np.where(move, dt, 1.0)
        s = self.settings
        speed = (value - self._value) / dt / max(size, 1e-9)
        speed = self._speed + _alpha(s.d_cutoff, dt) * (speed - self._speed)
        cutoff = s.min_cutoff + s.beta * np.abs(speed)
        filtered = self._value + _alpha(cutoff, dt) * (value - self._value)
        self._value = np.where(move, filtered, np.where(new, value, self._value))
        self._speed = np.where(move, speed, np.where(new, 0.0, self._speed))
        self._at = np.where(move | new, now, self._at)
        return self._value.copy()


class KeypointSmoother:
    """One filter per tracked person: `smooth(now, people, kept)` → the same people, their
    keypoints filtered (scores untouched). A keypoint seen less surely than `min_score` does
    not move its filter: it holds the last steady place rather than being dragged by a guess
    (consumers ignore it anyway, by its score). Filters of ids no longer kept are dropped."""

    def __init__(self, settings: OneEuroSettings | None = None, min_score: float = 0.3):
        self.settings = settings or OneEuroSettings()
        self.min_score = min_score
        self._filters: dict[int, OneEuroFilter] = {}

    def __len__(self) -> int:
        return len(self._filters)

    def smooth(self, now: float, people: Sequence[Tracked], kept: Collection[int]) -> list[Tracked]:
        """`kept`: the ids the tracker still keeps (Tracker.ids), so that a person missed for a
        frame finds their filter again."""
        out = []
        for person in people:
            points = np.asarray(person.keypoints, np.float64)
            x1, y1, x2, y2 = person.box
            size = ((x2 - x1) + (y2 - y1)) / 2  # as MediaPipe's object scale
            one = self._filters.get(person.id) or self._filters.setdefault(person.id, OneEuroFilter(self.settings))
            smoothed = points.copy()
            smoothed[:, :2] = one(now, points[:, :2], size, (points[:, 2] >= self.min_score)[:, None])
            out.append(replace(person, keypoints=smoothed))
        for gone in set(self._filters) - set(kept) - {p.id for p in people}:
            del self._filters[gone]
        return out
