"""When to try the broker again, and what to tell the log (pure: no sockets, no clock).

The wait doubles from reconnect_min_s up to reconnect_max_s after each failure in a row. A
link counts as working again only once it has carried a message or stayed up
reconnect_max_s: a broker that accepts the brain and drops it at once is tried ever more
slowly, not in a loop. Each kind of trouble is told once, until the link works again."""

from __future__ import annotations

from enum import Enum

__all__ = ["Reconnects", "Trouble"]


class Trouble(Enum):
    UNREACHABLE = "unreachable"  # refused, timed out, TLS, …: tried again with backoff
    LOST = "lost"  # was connected, then the link broke
    REFUSED = "refused"  # the broker refused the credentials: tried at the slowest pace


class Reconnects:
    def __init__(self, min_s: float, max_s: float):
        self.min_s, self.max_s = min_s, max_s
        self.failures = 0
        self.told: Trouble | None = None
        self.up_since: float | None = None

    def connected(self, now: float) -> str:
        """The broker accepted us: what to log ("connected" or "connected again")."""
        self.up_since = now
        said = "connected again" if self.told is not None else "connected"
        self.told = None
        return said

    def delivered(self) -> None:
        """A message went through: the link works."""
        self.failures = 0

    def failed(self, now: float, refused: bool) -> tuple[float, Trouble | None]:
        """The link failed (or could not be made): seconds to wait, and the trouble to tell
        (None: told already)."""
        if self.up_since is not None and now - self.up_since >= self.max_s:
            self.failures = 0  # (it worked for a good while: this is a new outage)
        trouble = Trouble.REFUSED if refused else Trouble.LOST if self.up_since is not None else Trouble.UNREACHABLE
        self.up_since = None
        self.failures += 1
        wait = self.max_s if refused else min(self.max_s, self.min_s * 2 ** (self.failures - 1))
        if self.told is not None and (self.told is Trouble.REFUSED) == refused:
            return wait, None
        self.told = trouble
        return wait, trouble
