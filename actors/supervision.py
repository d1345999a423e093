"""When to restart a crashed child, and when to give up: one pure policy for every
parent (Session → cortexes, SessionSupervisor → sessions, ModelDirectory → holders) and
the error budget of a cortex whose handlers keep raising. The caller passes the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from actors.params import bounded

__all__ = ["SupervisionPolicy", "Restart", "GiveUp", "Restarts", "ErrorBudget", "never_give_up"]


@dataclass(frozen=True)
class SupervisionPolicy:
    """How parents restart crashed children (config [supervision])."""

    max_restarts: int = bounded(5, minimum=0, maximum=1000)  # within window_s; beyond, the child stays down
    window_s: float = bounded(60.0, minimum=0.1)
    backoff_s: float = bounded(0.5, minimum=0.0, maximum=3600.0)  # doubled for each restart within the window
    max_backoff_s: float = bounded(10.0, minimum=0.0, maximum=3600.0)
    max_errors: int = bounded(20, minimum=1, maximum=100_000)  # a cortex whose handlers raise this often
    errors_window_s: float = bounded(10.0, minimum=0.1)  # within this window is restarted fresh


@dataclass(frozen=True)
class Restart:
    after_s: float
    count: int  # crashes within the window, this one included


@dataclass(frozen=True)
class GiveUp:
    count: int


class Restarts:
    """One child's crashes: each `crashed(now)` answers Restart(after_s) or GiveUp.

    The delay doubles from `backoff_s` with each crash in the window (at most
    `max_backoff_s`); the first `free` crashes restart at once (a holder replaced on
    another host, say, is not a failing one)."""

    def __init__(self, policy: SupervisionPolicy, free: int = 0):
        self.policy = policy
        self.free = free
        self.crashes: list[float] = []

    def crashed(self, now: float) -> Restart | GiveUp:
        policy = self.policy
        self.crashes = [t for t in self.crashes if now - t < policy.window_s] + [now]
        count = len(self.crashes)
        if count > policy.max_restarts:
            return GiveUp(count)
        if count <= self.free:
            return Restart(0.0, count)
        return Restart(min(policy.backoff_s * 2 ** (count - 1 - self.free), policy.max_backoff_s), count)

    def reset(self) -> None:
        """The child proved itself (a holder loaded its models): forget its crashes."""
        self.crashes = []


def never_give_up(backoff_s: float, max_backoff_s: float) -> SupervisionPolicy:
    """A policy for children that must always come back (model holders)."""
    return SupervisionPolicy(max_restarts=1000, window_s=math.inf, backoff_s=backoff_s, max_backoff_s=max_backoff_s)


class ErrorBudget:
    """A cortex's handler errors: `spent(now)` is True once `max_errors` fell within
    `errors_window_s` (the cortex then exits to be restarted with a fresh state)."""

    def __init__(self, policy: SupervisionPolicy):
        self.policy = policy
        self.errors: list[float] = []

    def spent(self, now: float) -> bool:
        self.errors = [t for t in self.errors if now - t < self.policy.errors_window_s] + [now]
        return len(self.errors) >= self.policy.max_errors
