"""The messages every side shares: the eye's stimuli and outputs, a Session and its
cortexes, the gateway and the Sessions, and the brain's own (Ping, WatchBrain).

A family's own messages live with it: the model directory and holders' in
actors/models/messages.py, the mentions poller's in actors/cortexes/mentions/messages.py,
a learned cortex and its trainer's in actors/cortexes/learned/messages.py.
Small frozen dataclasses: picklable, comparable, and readable in one screen.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (the config's results, in actors/specs.py)
    from actors.specs import CortexSpec

__all__ = [
    "STIMULUS_KINDS",
    "Stimulus",
    "Meter",
    "Output",
    "EyeOutput",
    "OpenSession",
    "StartCortex",
    "CortexReady",
    "CloseSession",
    "Route",
    "RoutesGiven",
    "Rerouted",
    "WhoAmI",
    "YouAre",
    "CortexState",
    "CortexSeen",
    "CortexesNow",
    "StartSession",
    "SessionStarted",
    "SessionEnded",
    "SessionUp",
    "SessionClosing",
    "Ping",
    "Pong",
    "WatchBrain",
]

#: What an eye can send; cortexes subscribe to some of these.
STIMULUS_KINDS = ("text", "image", "command", "pose")


@dataclass(frozen=True)
class Stimulus:
    """One thing the eye sent: a transcript, a snapshot or a command."""

    kind: str  # one of STIMULUS_KINDS
    text: str = ""  # kind "text": the words; kind "command": the command name
    # thespian formats every message it sends with repr(): keep megabytes out of it.
    image: bytes = field(default=b"", repr=False)  # kind "image": encoded JPEG/PNG/WebP bytes
    content_type: str = ""  # kind "image": e.g. "image/jpeg"
    args: dict[str, Any] = field(default_factory=dict)  # kind "command": its other fields; "pose": the people
    received: float = field(default_factory=time.time)
    shared: Any = None  # gateway → cortex: SharedPixels of the image bytes (then `image` is empty)


@dataclass(frozen=True)
class Meter:
    """What /metrics counts of an output (the eye never sees it; `data` is the eye's)."""

    latency_ms: float | None = None  # from the stimulus to this output
    batch: int | None = None  # size of the model holder's batch that served it
    queued: int | None = None  # requests left waiting at that holder for the model after the batch
    frames_dropped: int | None = None  # the cortex's latest-frame-wins count so far
    restarted: str = ""  # the cortex that came back
    model: str = ""  # the model that served it (its time at the holder is in latency_ms)
    host: str = ""  # where that model's holder runs ("" for this machine)


@dataclass(frozen=True)
class Output:
    """One thing for the eye to show (and maybe speak)."""

    cortex: str
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    meter: Meter | None = None


@dataclass(frozen=True)
class EyeOutput:
    """An output addressed to the eye of one session (what the bridge receives)."""

    session_id: str
    output: Output


@dataclass(frozen=True)
class OpenSession:
    """Gateway → new Session: who the eye is and which cortexes to create."""

    session_id: str
    eye: Any  # ActorAddress of the bridge's receive context (a session started or ended)
    cortexes: tuple[CortexSpec, ...]
    ready_data: dict[str, Any] = field(default_factory=dict)  # passed to the eye when ready
    services: dict[str, Any] = field(default_factory=dict)  # shared actors by role, e.g. "models"
    policy: Any = None  # SupervisionPolicy for its cortexes (None: defaults)
    outputs: Any = None  # EyeLink: where its outputs for the eye are written


@dataclass(frozen=True)
class StartCortex:
    """Session → new Cortex: its stanza and where its outputs go."""

    spec: CortexSpec
    session_id: str
    outputs: Any  # EyeLink
    services: dict[str, Any] = field(default_factory=dict)
    policy: Any = None  # SupervisionPolicy
    stimuli_fd: int = -1  # its end of the socket pair its stimuli come by (inherited at fork)
    inherited: tuple[int, ...] = ()  # the Session's other files it inherited: to close
    first: tuple[Stimulus, ...] = ()  # what woke it (read off its pipe by the Session): handled first


@dataclass(frozen=True)
class CortexReady:
    """Cortex → Session: started, or failed to start with `error`."""

    name: str
    error: str = ""


@dataclass(frozen=True)
class CloseSession:
    """Gateway → Session: the eye left; stop the cortexes, then exit."""


@dataclass(frozen=True)
class Route:
    """Session → gateway: this cortex's stimuli go down the pipe sent beside this message
    (its end of the socket pair travels as SCM_RIGHTS); it replaces an earlier one."""

    session_id: str
    cortex: str
    kinds: tuple[str, ...]
    generation: int = 0  # which start of that cortex (a restart gives it a new pipe)


@dataclass(frozen=True)
class RoutesGiven:
    """Session → gateway: every cortex it started has its route; the eye may send."""

    session_id: str


@dataclass(frozen=True)
class Rerouted:
    """Gateway → Session: a stimulus for one cortex whose pipe was full (or the stimulus
    too big for it); the Session sends it on as a message, and so all that follow."""

    cortex: str
    generation: int  # the route's: one for a cortex since restarted is dropped (it missed it)
    stimulus: Stimulus


@dataclass(frozen=True)
class WhoAmI:
    """Bridge → reflector: which address did this come from?"""


@dataclass(frozen=True)
class YouAre:
    """Reflector → bridge: the address the WhoAmI came from, and the actor system's
    session id (every actor process shares the admin's: it calls setsid)."""

    address: Any
    actor_sid: int = 0
    admin_pid: int = 0  # the reflector's parent


# -- the live view: a Session tells its cortexes' states ----------------------------------------


class CortexState(enum.Enum):
    IDLE = "idle"  # started lazily: not yet, waiting for its first stimulus
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # it crashed; started again after its backoff
    OFF = "off"  # it kept crashing: off for the rest of the session
    FAILED = "failed"  # it could not start (`error` says why)


@dataclass(frozen=True)
class CortexSeen:
    name: str
    state: CortexState
    restarts: int = 0
    error: str = ""  # why it is RESTARTING, OFF or FAILED


@dataclass(frozen=True)
class CortexesNow:
    """Session → the gateway (by its outputs socket): its cortexes, whenever one changed."""

    session_id: str
    cortexes: tuple[CortexSeen, ...]


# -- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartSession:
    """Gateway → SessionSupervisor: create (and look after) the Session of one eye."""

    open: OpenSession


@dataclass(frozen=True)
class SessionStarted:
    """SessionSupervisor → gateway: this eye's Session is (again) at `address`."""

    session_id: str
    address: Any
    restarted: bool = False


@dataclass(frozen=True)
class SessionEnded:
    """SessionSupervisor → gateway: this eye's Session is gone for good."""

    session_id: str
    reason: str


@dataclass(frozen=True)
class SessionUp:
    """Session → its supervisor: the process group holding the Session and its cortexes."""

    session_id: str
    pgid: int


@dataclass(frozen=True)
class SessionClosing:
    """Session → its supervisor: a requested close, not a crash."""

    session_id: str


@dataclass(frozen=True)
class Ping:
    """Brain → a core actor at start: which process are you? (for the watchdog)"""


@dataclass(frozen=True)
class Pong:
    pid: int


@dataclass(frozen=True)
class WatchBrain:
    """Brain → its lifeline at start: end the actor system when this process is gone
    (`started`, when it started in clock ticks since boot, tells it from a later process
    given the same pid; unlike a wall-clock time, no clock step moves it)."""

    pid: int
    started: int
