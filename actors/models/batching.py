"""When to run a batch, and whose requests go in it: the ModelHolder's batching decisions
as a pure, testable class.

A model's first waiting request starts a window of `max_wait_s`; the batch runs when
the window closes or when `max_batch` requests wait, whichever comes first. A window
of 0 adds no delay: the holder's timer then fires as soon as the requests that have
already arrived (while it was busy) are read, so they still run as one batch.

Whose requests: a round robin by source (a cortex's connection: one eye's cortex for this
model). Oldest-first was not fair under overload: the holder reads its connections in the
order they were made, so the same eyes always came last in a round, outlived their
deadline and were skipped (at 50 eyes, eight of them got 2–9 labels in 40 s against the
others' 11). Now the sources answered longest ago, or never, go first; a request skipped
at its deadline does not count as served, so its eye goes first next time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["Batcher", "Action"]

#: Sources remembered per model; past it the longest-unserved is forgotten (it then ranks
#: as new: first, which is where it was anyway).
MAX_SOURCES = 4096


@dataclass(frozen=True)
class Action:
    run_now: bool = False
    wake_in_s: float | None = None  # set a timer: the window of a new batch opened


class Batcher:
    def __init__(self, max_batch: int, max_wait_s: float):
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._waiting: dict[str, list[tuple[Hashable, Any]]] = {}  # model → (source, request), in arrival order
        self._opened: dict[str, float] = {}
        self._served: dict[str, OrderedDict[Hashable, None]] = {}  # model → sources, served longest ago first

    def add(self, model: str, request: Any, now: float, source: Hashable = None) -> Action:
        waiting = self._waiting.setdefault(model, [])
        waiting.append((source, request))
        if len(waiting) >= self.max_batch:
            return Action(run_now=True)
        if len(waiting) == 1:
            self._opened[model] = now
            return Action(wake_in_s=self.max_wait_s)
        return Action()

    def due(self, model: str, now: float) -> bool:
        """Whether a timer for `model` should run its batch (stale timers are ignored)."""
        opened = self._opened.get(model)
        return bool(self._waiting.get(model)) and opened is not None and now - opened >= self.max_wait_s * 0.999

    def take(self, model: str) -> list[tuple[Hashable, Any]]:
        """At most max_batch waiting (source, request) of `model`: one at a time, the oldest
        of the source answered longest ago (never: first); the rest keep waiting."""
        waiting = self._waiting.get(model, [])
        rank = {source: place for place, source in enumerate(self._served.get(model, ()))}
        batch = []
        while waiting and len(batch) < self.max_batch:
            pick = min(range(len(waiting)), key=lambda i: (rank.get(waiting[i][0], -1), i))
            batch.append(waiting.pop(pick))
            rank[batch[-1][0]] = len(rank) + len(batch)  # (its next request waits for the others)
        if not waiting:
            self._opened.pop(model, None)
        return batch

    def answered(self, model: str, source: Hashable) -> None:
        """`source`'s request on `model` was run: it goes to the back of the round."""
        served = self._served.setdefault(model, OrderedDict())
        served[source] = None
        served.move_to_end(source)
        if len(served) > MAX_SOURCES:
            served.popitem(last=False)

    def forget(self, source: Hashable) -> None:
        """`source` is gone (its cortex's connection closed): a newcomer given its number
        (a connection's fd is reused) ranks as new, not where it had come."""
        for served in self._served.values():
            served.pop(source, None)

    def waiting(self, model: str) -> int:
        return len(self._waiting.get(model, []))
