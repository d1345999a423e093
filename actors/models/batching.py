"""When to run a batch: the ModelHolder's batching decisions as a pure, testable class.

A model's first waiting request starts a window of `max_wait_s`; the batch runs when
the window closes or when `max_batch` requests wait, whichever comes first. A window
of 0 adds no delay: the holder's timer then fires as soon as the requests that have
already arrived (while it was busy) are read, so they still run as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Batcher", "Action"]


@dataclass(frozen=True)
class Action:
    run_now: bool = False
    wake_in_s: float | None = None  # set a timer: the window of a new batch opened


class Batcher:
    def __init__(self, max_batch: int, max_wait_s: float):
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._waiting: dict[str, list[Any]] = {}
        self._opened: dict[str, float] = {}

    def add(self, model: str, request: Any, now: float) -> Action:
        waiting = self._waiting.setdefault(model, [])
        waiting.append(request)
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

    def take(self, model: str) -> list[Any]:
        """The waiting requests of `model`, oldest first, at most max_batch; the rest keep waiting."""
        waiting = self._waiting.get(model, [])
        batch, rest = waiting[: self.max_batch], waiting[self.max_batch :]
        self._waiting[model] = rest
        self._opened.pop(model, None)
        return batch

    def waiting(self, model: str) -> int:
        return len(self._waiting.get(model, []))
