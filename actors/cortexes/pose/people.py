"""Gestures per person: one Debouncer (actors/debounce.py) per tracked id, so that a gesture is an
event of the person who makes it.

Keyed by the tracker's id, not by a place in the frame: when two people swap places a
gesture held through the swap is not new, and a neighbour's frames never complete your run
of agreeing predictions. A person's debouncer is made when their id is first seen and dropped
once the tracker no longer keeps that id (ids are never reused, so a newcomer starts afresh).
Pure: the time is passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple

from actors.debounce import Debouncer, DebounceSettings

__all__ = ["Showing", "People"]


class Showing(NamedTuple):
    """One tracked person in one frame: what their pose shows."""

    person: int  # the tracker's id
    gestures: Mapping[str, float]  # the gestures (or learned classes) shown, each with its p
    seen: int  # keypoints seen (a half-seen person's frame does not count)


class People:
    """`see(now, showing, kept)` → the (person, gesture) events that start now."""

    def __init__(self, settings: DebounceSettings | None = None):
        self.settings = settings or DebounceSettings()
        self._debouncers: dict[int, Debouncer] = {}

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(self._debouncers)

    def see(self, now: float, showing: Iterable[Showing], kept: Collection[int]) -> list[tuple[int, str]]:
        """`kept`: the ids the tracker still keeps (Tracker.ids). A person missed for a frame
        is still kept, and so keeps their gestures' state: back with their arms still up,
        they are no new event."""
        events = []
        shown = set()
        for person, gestures, seen in showing:
            shown.add(person)
            debouncer = self._debouncers.get(person) or self._debouncers.setdefault(person, Debouncer(self.settings))
            events += [(person, gesture) for gesture in debouncer.see(now, dict(gestures), seen)]
        for gone in set(self._debouncers) - set(kept) - shown:
            del self._debouncers[gone]
        return events
