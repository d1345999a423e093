"""What each face in view feels, steadied: the emotion model's scores per face averaged over
the last second, and a reaction (the average turning to happy or surprise) as an event
when it starts, debounced as gestures are (actors/debounce.py).

One frame's guess flickers (a blink, a word half said); a second of them is what a person
shows. A face is followed from frame to frame by its name when it is known, else by box
overlap (an optimal assignment: two faces passing each other keep their own averages), and
forgotten once unseen for `keep_s`. Pure: the time is passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from actors.debounce import Debouncer, DebounceSettings
from actors.models.detection import iou

__all__ = ["REACTIONS", "MoodSettings", "Seen", "Mood", "Moods"]

#: The classes whose start is a reaction, and how a sentence says it.
REACTIONS = {"happy": "smiles", "surprise": "is surprised"}


@dataclass(frozen=True)
class MoodSettings:
    window_s: float = 1.0  # scores are averaged over this long
    keep_s: float = 2.0  # a face unseen this long is gone (back later: a new face, a new reaction)
    same_iou: float = 0.3  # an unnamed face overlapping one of the last frame this much is it
    # A reaction: the average's top class for the last `agree` frames within `within_s`, at
    # least `min_p` sure (an average: 0.5 is a clear majority of the second).
    debounce: DebounceSettings = DebounceSettings(min_keypoints=0, agree=3, within_s=1.0, min_p=0.5, min_gap_s=0.0)


class Seen(NamedTuple):
    """One face in one frame."""

    box: tuple[float, ...]  # [x1, y1, x2, y2]
    name: str | None  # who it is, when the faces cortex knows
    scores: dict[str, float]  # the emotion model's, this frame


@dataclass(frozen=True)
class Mood:
    """One face's steadied feeling: the averaged scores and their top class."""

    face: int  # an id that stays the face's while it is followed
    emotion: str
    scores: dict[str, float]


@dataclass
class _Face:
    id: int
    box: tuple
    name: str | None
    seen_at: float
    history: deque = field(default_factory=deque)  # (time, scores as an array)
    debouncer: Debouncer | None = None


class Moods:
    """`see(now, faces)` → (a Mood per face, in their order; the (index, reaction) that start)."""

    def __init__(self, classes: Sequence[str], settings: MoodSettings | None = None):
        self.classes = tuple(classes)
        self.settings = settings or MoodSettings()
        self._faces: list[_Face] = []
        self._ids = count(1)

    def __len__(self) -> int:
        return len(self._faces)

    def see(self, now: float, faces: Sequence[Seen]) -> tuple[list[Mood], list[tuple[int, str]]]:
        s = self.settings
        self._faces = [f for f in self._faces if now - f.seen_at <= s.keep_s]
        followed = self._follow(faces)
        moods, events = [], []
        for index, ((box, name, scores), face) in enumerate(zip(faces, followed)):
            face.box, face.seen_at, face.name = tuple(box), now, name or face.name
            face.history.append((now, np.array([scores.get(c, 0.0) for c in self.classes], np.float64)))
            while now - face.history[0][0] > s.window_s:
                face.history.popleft()
            mean = np.mean([values for _, values in face.history], axis=0)
            top = self.classes[int(np.argmax(mean))]
            moods.append(Mood(face.id, top, {c: round(float(v), 3) for c, v in zip(self.classes, mean)}))
            shown = {top: float(mean.max())} if top in REACTIONS else {}
            events += [(index, reaction) for reaction in face.debouncer.see(now, shown, 0)]
        return moods, events

    def _follow(self, faces: Sequence[Seen]) -> list[_Face]:
        """The followed face each of `faces` is (a new one where none fits)."""
        s = self.settings
        out: list[_Face | None] = [None] * len(faces)
        free = list(self._faces)
        for i, (_, name, _) in enumerate(faces):  # a known face is who it is, wherever it is
            match = next((f for f in free if name is not None and f.name == name), None)
            if match is not None:
                out[i] = match
                free.remove(match)
        rest = [i for i in range(len(faces)) if out[i] is None]
        if rest and free:
            overlap = np.array([[iou(faces[i][0], f.box) for f in free] for i in rest])
            rows, cols = linear_sum_assignment(-overlap)
            taken = set()
            for r, c in zip(rows, cols):
                name = faces[rest[r]][1]
                other = free[c].name
                if overlap[r, c] >= s.same_iou and (name is None or other is None or name == other):
                    out[rest[r]] = free[c]
                    taken.add(c)
            free = [f for c, f in enumerate(free) if c not in taken]
        for i, face in enumerate(out):
            if face is None:
                out[i] = _Face(next(self._ids), faces[i][0], faces[i][1], 0.0, debouncer=Debouncer(s.debounce))
                self._faces.append(out[i])
        return out  # type: ignore[return-value]
