"""Debounce, as the Huia experience did it: a gesture is an event when it starts, not on
every frame it lasts, and only once the last few predictions agree. Shared by the cortexes
that turn what a frame shows into events: pose (gestures), learned (classes), faces
(reactions); none of them imports another.

Per person, predictions come in with their time: the gestures (or learned classes) a
frame shows, each with a probability where one exists. A frame counts only when enough
keypoints are seen. A gesture starts when the last `agree` counted predictions, made
within `within_s`, all show it with p ≥ `min_p`, at least `min_gap_s` after the last
event; it ends at the first counted prediction without it. Pure: time is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["DebounceSettings", "Debouncer"]


@dataclass(frozen=True)
class DebounceSettings:
    min_keypoints: int = 8  # seen (score ≥ min_score) for a frame to count
    agree: int = 3  # the last this many predictions …
    within_s: float = 1.0  # … made within this long …
    min_p: float = 0.94  # … each at least this sure (where a prediction has a probability)
    min_gap_s: float = 0.1  # and at least this long after the last event


@dataclass
class Debouncer:
    """One person's gestures: `see(now, shown, keypoints_seen)` → the gestures that start now."""

    settings: DebounceSettings = field(default_factory=DebounceSettings)
    history: deque = field(default_factory=deque)  # (time, {gesture: p})
    active: set = field(default_factory=set)
    last_event: float = float("-inf")

    def see(self, now: float, shown: dict[str, float], keypoints_seen: int) -> list[str]:
        s = self.settings
        if keypoints_seen < s.min_keypoints:
            return []  # half a person says nothing, either way
        self.history.append((now, shown))
        while len(self.history) > s.agree:
            self.history.popleft()
        self.active &= set(shown)  # a gesture not in this frame has ended
        recent = [g for t, g in self.history if now - t <= s.within_s]
        if len(recent) < s.agree:
            return []
        agreed = set.intersection(*({name for name, p in g.items() if p >= s.min_p} for g in recent))
        starting = sorted(agreed - self.active)
        if not starting or now - self.last_event < s.min_gap_s:
            return []
        self.active |= set(starting)
        self.last_event = now
        return starting
