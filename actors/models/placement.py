"""Which actor system an actor may run on: capabilities advertised by `brain join`.

Every actor system of a Cortical convention advertises its own name (HOST) and what it
offers (OFFERS, e.g. ["gpu", "faces"]). The ModelDirectory picks the host itself and
pins the actor there with `targetActorRequirements={HOST: name}`; thespian asks the
actor class's `actorSystemCapabilityCheck`, which is `runs_on` below.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "HOST",
    "OFFERS",
    "HostState",
    "Liveness",
    "best_host",
    "making_progress",
    "offers",
    "pinned_to",
    "runs_on",
]

HOST = "Cortical Host"  # capability: this actor system's name, "address:admin_port"
OFFERS = "Cortical Offers"  # capability: list of what it offers, e.g. ["gpu"]


def pinned_to(host: str) -> dict:
    """targetActorRequirements that place an actor on one named actor system."""
    return {HOST: host}


def runs_on(capabilities: dict, requirements: dict | None) -> bool:
    wanted = (requirements or {}).get(HOST)
    return wanted is None or wanted == capabilities.get(HOST)


def offers(capabilities: dict, required: tuple[str, ...]) -> bool:
    return set(required) <= set(capabilities.get(OFFERS) or ())


class HostState(enum.Enum):
    """A joined host, as the leader's directory sees it."""

    JOINING = "joining"  # joined the convention; its beacon has not answered yet
    UP = "up"  # its beacon answers
    LOST = "lost"  # silent too long (or it left): its holders were re-created elsewhere


def best_host(requires: tuple[str, ...], up_hosts: dict[str, tuple[str, ...]], load: dict[str, int]) -> str:
    """Where a holder that requires `requires` should run: the least loaded host that is
    up and offers all of it (`up_hosts`: name → what it offers; `load`: name → holders
    there), or "" (this machine) when it requires nothing or no host fits."""
    if not requires:
        return ""
    candidates = [name for name, offered in up_hosts.items() if set(requires) <= set(offered)]
    return min(candidates, key=lambda name: load.get(name, 0)) if candidates else ""


def making_progress(samples: list[tuple[float, float]], now: float, window_s: float) -> bool:
    """Whether a process whose CPU time was sampled as (when, seconds) used CPU over the
    last `window_s`: a late holder that does is busy, not hung. With too little history,
    say yes (a hung one is caught at its next timeout, once there is); with no samples at
    all (gone, a zombie or stopped), no."""
    if not samples:
        return False
    old = [cpu for when, cpu in samples if when <= now - window_s]
    return not old or samples[-1][1] > old[-1]


@dataclass
class Liveness:
    """One joined host's heartbeat, as a state machine (the time is passed in).

    `beat(now)` runs at every heartbeat tick and says whether the host is now lost
    (silent for `dead_after_s`) and whether to ping it; `heard(now)` records an answer
    and says whether the host has just come up (first answer, or back from a partition).
    A lost host is still pinged, every `lost_ping_every` ticks: often enough that its
    beacon does not give this leader up."""

    joined: float
    dead_after_s: float
    lost_ping_every: int = 1
    state: HostState = HostState.JOINING
    last_heard: float | None = None
    beats: int = 0

    def beat(self, now: float) -> tuple[str, bool]:
        """(why it is lost now, or ""; whether to ping it)."""
        self.beats += 1
        silent = now - (self.last_heard if self.last_heard is not None else self.joined)
        lost = ""
        if self.state is not HostState.LOST and silent > self.dead_after_s:
            lost = f"silent for {silent:.1f} s"
            self.state = HostState.LOST
        ping = self.state is not HostState.LOST or self.beats % self.lost_ping_every == 0
        return lost, ping

    def heard(self, now: float) -> bool:
        self.last_heard = now
        came_up = self.state is not HostState.UP
        self.state = HostState.UP
        return came_up

    def lose(self) -> None:
        self.state = HostState.LOST
