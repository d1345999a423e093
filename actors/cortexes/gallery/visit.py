"""A gallery visit: which item a person liked best, from what their face showed while it was
on screen. Pure: commands and feelings in, with their times; the result out.

The page says which item it shows (`look`) and when the visit ends (`done`); the faces
cortex's `emotion` outputs say what every face in view felt, a frame at a time (each face's
scores already averaged over the last second). An item's score weighs three things:

    score = 0.6 × happy + 0.25 × surprise + 0.15 × attention

- happy, surprise: the mean over the item's frames of the faces' mean probability (a group
  is scored as a whole; each known person also alone);
- attention: the share of the item's time a face was in view (BlazeFace finds faces turned
  toward the camera: the screen is beside it), each frame with a face counting the time
  since the one before, at most `frame_gap_s`.

The first `settle_s` of each item are not scored for happy and surprise: the averages still
hold the last item's feelings, and a face takes a moment to react. Attention counts from the
start. Nobody seen during the whole visit: no favourite ("nobody was watching").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["WEIGHTS", "VisitSettings", "Felt", "ItemScore", "Result", "Visit"]

WEIGHTS = {"happy": 0.6, "surprise": 0.25, "attention": 0.15}


@dataclass(frozen=True)
class VisitSettings:
    settle_s: float = 1.0  # the start of each item not scored for happy and surprise
    frame_gap_s: float = 1.0  # a frame with a face counts at most this much attention
    max_looks: int = 200  # looks in one visit at most


@dataclass(frozen=True)
class Felt:
    """One face in one frame, as the faces cortex's `emotion` output says."""

    name: str | None
    happy: float
    surprise: float


@dataclass(frozen=True)
class ItemScore:
    score: float
    happy: float
    surprise: float
    attention_s: float


@dataclass(frozen=True)
class Result:
    favourite: str | None  # the item's id; None: nobody was watching
    items: dict[str, ItemScore]  # in the order they were first shown
    people: dict[str, str]  # each known person's favourite


@dataclass
class _Tally:
    shown_s: float = 0.0
    attention_s: float = 0.0
    frames: int = 0  # scored frames (sums, not lists: a visit may stream frames for long)
    happy: float = 0.0
    surprise: float = 0.0


class Visit:
    """`look(now, item)`, `feel(now, faces)`, then `done(now)` → Result (and a new visit)."""

    def __init__(self, settings: VisitSettings | None = None):
        self.settings = settings or VisitSettings()
        self._reset()

    def _reset(self) -> None:
        self.item: str | None = None
        self.since = 0.0  # when the item on screen was shown
        self.last_face = None  # when a face was last seen
        self.looks = 0
        self.group: dict[str, _Tally] = {}
        self.people: dict[str, dict[str, _Tally]] = {}

    @property
    def started(self) -> bool:
        return self.item is not None

    def look(self, now: float, item: str) -> None:
        if self.looks >= self.settings.max_looks:
            raise ValueError(f"a visit shows at most {self.settings.max_looks} items")
        self._close(now)
        self.item, self.since, self.last_face = item, now, None
        self.looks += 1
        self.group.setdefault(item, _Tally())
        for tallies in self.people.values():
            tallies.setdefault(item, _Tally())

    def feel(self, now: float, faces: Sequence[Felt]) -> None:
        """A frame's faces (none: nobody in view, which scores nothing)."""
        if self.item is None or not faces:
            return
        s = self.settings
        seen = min(now - (self.last_face if self.last_face is not None else self.since), s.frame_gap_s)
        self.last_face = now
        settled = now - self.since >= s.settle_s
        self._count(self.group[self.item], seen, settled, faces)
        for name in {f.name for f in faces if f.name}:
            tallies = self.people.setdefault(name, {item: _Tally() for item in self.group})
            self._count(tallies[self.item], seen, settled, [f for f in faces if f.name == name])

    @staticmethod
    def _count(tally: _Tally, seen: float, settled: bool, faces: Sequence[Felt]) -> None:
        tally.attention_s += max(seen, 0.0)
        if settled:
            tally.frames += 1
            tally.happy += sum(f.happy for f in faces) / len(faces)
            tally.surprise += sum(f.surprise for f in faces) / len(faces)

    def _close(self, now: float) -> None:
        if self.item is not None:
            self.group[self.item].shown_s += max(now - self.since, 0.0)
            for tallies in self.people.values():
                tallies[self.item].shown_s += max(now - self.since, 0.0)

    def done(self, now: float) -> Result:
        if self.item is None:
            raise ValueError("no item was shown")
        self._close(now)
        items = {item: _scored(t) for item, t in self.group.items()}
        watched = any(t.attention_s > 0 for t in self.group.values())
        people = {
            name: _best({item: _scored(t) for item, t in tallies.items()})
            for name, tallies in sorted(self.people.items())
        }
        result = Result(_best(items) if watched else None, items, {n: i for n, i in people.items() if i})
        self._reset()
        return result


def _scored(t: _Tally) -> ItemScore:
    happy = t.happy / t.frames if t.frames else 0.0
    surprise = t.surprise / t.frames if t.frames else 0.0
    attention = min(t.attention_s / t.shown_s, 1.0) if t.shown_s > 0 else 0.0
    score = WEIGHTS["happy"] * happy + WEIGHTS["surprise"] * surprise + WEIGHTS["attention"] * attention
    return ItemScore(round(score, 3), round(happy, 3), round(surprise, 3), round(t.attention_s, 2))


def _best(items: dict[str, ItemScore]) -> str | None:
    """The highest score (the first shown of equals); None when nothing was watched."""
    watched = {item: s for item, s in items.items() if s.attention_s > 0}
    return max(watched, key=lambda item: watched[item].score) if watched else None
