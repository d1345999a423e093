"""Faces across frames: a person who stays in view is compared once, when they appear, not
on every frame (each comparison may be a paid cloud call). Pure: the time is passed in.

A face box that overlaps (IoU ≥ `min_iou`) a face seen within `gone_after_s` is the same
person, and keeps the name found when they appeared; a face that matches none is new,
and the frame must be compared. A frame with no face at all ends every appearance: without
it, someone stepping into the place another person just left would take their name. `recheck_every_s` (0: never) compares a staying person
again now and then, in case the first look was poor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.models.detection import iou

__all__ = ["Appearances"]


@dataclass
class _Track:
    box: tuple[float, ...]
    seen: float
    compared: float
    name: str | None = None
    score: float = 0.0


@dataclass
class Appearances:
    gone_after_s: float = 2.0
    recheck_every_s: float = 0.0
    min_iou: float = 0.3
    tracks: list[_Track] = field(default_factory=list)

    def known(self, boxes: list[tuple[float, ...]], now: float) -> list[tuple[str | None, float]] | None:
        """(name, score) for each box when every face is someone already compared; None when
        the frame must be compared (somebody new, or due for a recheck)."""
        self.tracks = [t for t in self.tracks if now - t.seen <= self.gone_after_s] if boxes else []
        found = []
        for box in boxes:
            track = max(self.tracks, key=lambda t: iou(t.box, box), default=None)
            if track is None or iou(track.box, box) < self.min_iou:
                return None
            if self.recheck_every_s and now - track.compared >= self.recheck_every_s:
                return None
            found.append(track)
        for track, box in zip(found, boxes):
            track.box, track.seen = box, now
        return [(t.name, t.score) for t in found]

    def compared(self, boxes: list[tuple[float, ...]], named: list[tuple[str | None, float]], now: float) -> None:
        """What a comparison of these faces said: they are the people in view from now on."""
        self.tracks = [
            *(t for t in self.tracks if not any(iou(t.box, box) >= self.min_iou for box in boxes)),
            *(_Track(box, now, now, name, score) for box, (name, score) in zip(boxes, named)),
        ]
