"""Every message that crosses between actors, and between actors and the bridge.

Small frozen dataclasses: picklable, comparable, and readable in one screen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "STIMULUS_KINDS", "Stimulus", "Output", "EyeOutput", "CortexSpec", "OpenSession",
    "StartCortex", "CortexReady", "CloseSession", "WhoAmI", "YouAre",
]

#: What an eye can send; cortexes subscribe to some of these.
STIMULUS_KINDS = ("text", "image", "command")


@dataclass(frozen=True)
class Stimulus:
    """One thing the eye sent: a transcript, a snapshot or a command."""

    kind: str  # one of STIMULUS_KINDS
    text: str = ""  # kind "text": the words; kind "command": the command name
    image: bytes = b""  # kind "image": encoded JPEG/PNG/WebP bytes
    content_type: str = ""  # kind "image": e.g. "image/jpeg"
    args: dict[str, Any] = field(default_factory=dict)  # kind "command": its other fields
    received: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Output:
    """One thing for the eye to show (and maybe speak)."""

    cortex: str
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)


@dataclass(frozen=True)
class EyeOutput:
    """An output addressed to the eye of one session (what the bridge receives)."""

    session_id: str
    output: Output


@dataclass(frozen=True)
class CortexSpec:
    """One `[[cortex]]` stanza of the topology, already validated."""

    name: str
    type: str
    subscribes: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenSession:
    """Gateway → new Session: who the eye is and which cortexes to create."""

    session_id: str
    eye: Any  # ActorAddress of the bridge's receive context
    cortexes: tuple[CortexSpec, ...]
    ready_data: dict[str, Any] = field(default_factory=dict)  # passed to the eye when ready


@dataclass(frozen=True)
class StartCortex:
    """Session → new Cortex: its stanza and where its outputs go."""

    spec: CortexSpec
    session_id: str
    eye: Any


@dataclass(frozen=True)
class CortexReady:
    """Cortex → Session: started, or failed to start with `error`."""

    name: str
    error: str = ""


@dataclass(frozen=True)
class CloseSession:
    """Gateway → Session: the eye left; stop the cortexes, then exit."""


@dataclass(frozen=True)
class WhoAmI:
    """Bridge → reflector: which address did this come from?"""


@dataclass(frozen=True)
class YouAre:
    """Reflector → bridge: the address the WhoAmI came from."""

    address: Any
