"""Who each tracked person is, from the faces cortex's known faces.

The pose cortex hears the faces cortex's `faces` outputs (it subscribes to them; neither
imports the other). A known face whose centre lies in a tracked person's head region names
that person, and the name stays with their id while the tracker keeps it, so a person who
turns away is still named. A name belongs to one person: given to another id, it leaves the
first. Faces older than `within_s` name nobody (they were of another moment).
Pure: the time is passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from actors.cortexes.pose.tracking import Tracked

__all__ = ["Names", "head_region"]

HEAD_POINTS = slice(0, 5)  # nose, eyes, ears (actors/cortexes/pose/body.py's KEYPOINTS order)


def head_region(person: Tracked, min_score: float) -> tuple[float, float, float, float]:
    """Where a person's face should be: around their seen nose, eyes and ears (widened, as
    those points span less than the face); without any, the top quarter of their box."""
    points = np.asarray(person.keypoints)[HEAD_POINTS]
    seen = points[points[:, 2] >= min_score]
    x1, y1, x2, y2 = person.box
    if not len(seen):
        return (x1, y1, x2, y1 + (y2 - y1) / 4)
    left, top = seen[:, 0].min(), seen[:, 1].min()
    right, bottom = seen[:, 0].max(), seen[:, 1].max()
    pad = max(right - left, bottom - top, (x2 - x1) * 0.1) * 0.75
    return (left - pad, top - pad, right + pad, bottom + pad)


class Names:
    def __init__(self, within_s: float = 2.0, min_score: float = 0.3):
        self.within_s = within_s
        self.min_score = min_score
        self._faces: list[tuple[Sequence[float], str]] = []  # the last known faces: (box, name)
        self._faces_at = -1e18
        self._names: dict[int, str] = {}  # tracker id → name

    def faces_seen(self, now: float, faces: Sequence[tuple[Sequence[float], str | None]]) -> None:
        """The faces cortex's latest faces, as (box in frame pixels, name or None)."""
        self._faces = [(box, name) for box, name in faces if name]
        self._faces_at = now

    def names(self, now: float, people: Sequence[Tracked], kept: Collection[int]) -> dict[int, str]:
        """id → name for the people named; `kept`: the ids the tracker still keeps."""
        if now - self._faces_at <= self.within_s:
            for box, name in self._faces:
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                holders = []
                for person in people:
                    x1, y1, x2, y2 = head_region(person, self.min_score)
                    if x1 <= cx <= x2 and y1 <= cy <= y2:
                        holders.append(((x2 - x1) * (y2 - y1), person.id))
                if holders:  # the tightest head region that holds the face
                    _, who = min(holders)
                    for other in [i for i, n in self._names.items() if n == name and i != who]:
                        del self._names[other]
                    self._names[who] = name
        for gone in set(self._names) - set(kept) - {p.id for p in people}:
            del self._names[gone]
        return {p.id: self._names[p.id] for p in people if p.id in self._names}
