"""What the config says, as the actors receive it: a cortex stanza, a model stanza,
the holder's settings and a mentions poller's. (The config file itself is read by
brain/config.py; these are its results, small frozen dataclasses that cross processes.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CortexSpec", "ModelSpec", "HolderSettings", "MentionsSettings"]


@dataclass(frozen=True)
class CortexSpec:
    """One `[[cortex]]` stanza of the topology, already validated."""

    name: str
    type: str
    subscribes: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    #: The kinds whose first stimulus starts it (its process is not made at connect), or
    #: () to start it with its eye.
    wakes_on: tuple[str, ...] = ()
    #: While it waits, the kinds its Session keeps the latest of, to hand it when it starts
    #: (learned waits for a teach command, which samples the frame before it).
    holds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """One `[[model]]` stanza: a model file, its format and the recipe that decodes it."""

    name: str
    kind: str  # pre/post-processing recipe, e.g. "nanodet"
    path: str
    format: str  # "tfjs", "savedmodel", "keras" or "tflite"
    requires: tuple[str, ...] = ()  # what its host must offer (`brain join --capabilities`)
    load: str = "start"  # "start": with its holder; "first_use": at the first request for it


@dataclass(frozen=True)
class HolderSettings:
    max_batch: int
    max_wait_ms: float
    restart_delay_s: float
    heartbeat_every_s: float = 0.5  # the directory's ping to every joined host
    host_dead_after_s: float = 2.0  # a host silent this long is lost; its holders are re-created
    leader_lost_after_s: float = 10.0  # a joined host not pinged this long drops what the leader placed there


@dataclass(frozen=True)
class MentionsSettings:
    """How to poll one account; the first subscriber's settings are used."""

    user_id: str
    base_url: str
    token_env: str  # name of the environment variable holding the bearer token
    poll_every_s: float
    timeout_s: float
    max_pages: int
    state_dir: str
    announce_backlog: bool
    max_backoff_s: float
