"""Every message that crosses between actors, and between actors and the bridge.

Small frozen dataclasses: picklable, comparable, and readable in one screen.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (the config's results, in actors/specs.py)
    from actors.specs import CortexSpec, HolderSettings, MentionsSettings, ModelSpec

__all__ = [
    "STIMULUS_KINDS",
    "Stimulus",
    "Output",
    "EyeOutput",
    "OpenSession",
    "Rerouted",
    "Route",
    "RoutesGiven",
    "StartCortex",
    "CortexReady",
    "CloseSession",
    "WhoAmI",
    "YouAre",
    "StartDirectory",
    "LoadModels",
    "ModelsLoaded",
    "ModelsFailed",
    "WhereIsModel",
    "ModelAt",
    "ModelLoading",
    "ModelUnavailable",
    "HolderSuspect",
    "Infer",
    "Inferred",
    "InferFailed",
    "Subscribe",
    "Unsubscribe",
    "Mention",
    "NewMentions",
    "StartSession",
    "SessionStarted",
    "SessionEnded",
    "SessionUp",
    "SessionClosing",
    "Ping",
    "Pong",
    "WatchBrain",
    "WatchModels",
    "HolderState",
    "HolderSeen",
    "HostNow",
    "HoldersNow",
    "CortexState",
    "CortexSeen",
    "CortexesNow",
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


# -- models: the directory hands out the holder; the holder runs the models ------------


@dataclass(frozen=True)
class StartDirectory:
    """Brain → ModelDirectory: the models to hold, and how."""

    models: tuple[ModelSpec, ...]
    settings: HolderSettings


@dataclass(frozen=True)
class LoadModels:
    """ModelDirectory → new ModelHolder."""

    models: tuple[ModelSpec, ...]
    settings: HolderSettings


@dataclass(frozen=True)
class ModelsLoaded:
    pid: int
    seconds: float
    peak_rss_mb: float
    inputs: dict[str, tuple[int, int]]  # model name → (height, width) the holder wants
    devices: dict[str, str] = field(default_factory=dict)  # model name → "CPU" or "GPU:0 (its name)"
    link: str = ""  # its socket for cortexes on its machine (actors/dataplane/holder_link.py)


@dataclass(frozen=True)
class ModelsFailed:
    error: str


@dataclass(frozen=True)
class WhereIsModel:
    """Cortex → ModelDirectory: which holder serves this model?"""

    model: str


@dataclass(frozen=True)
class ModelAt:
    model: str
    holder: Any
    input_size: tuple[int, int]  # (height, width) of the images Infer must carry
    pid: int = 0  # the holder's process, to tell a busy holder from a dead one
    host: str = ""  # the joined host it runs on; "" for this machine (then pid is local)
    device: str = "CPU"
    link: str = ""  # the holder's socket, for a cortex on its machine


@dataclass(frozen=True)
class HolderLost:
    """ModelDirectory → the cortexes that use a holder: it is gone; ask where again."""

    holder: Any
    reason: str


@dataclass(frozen=True)
class ModelsNotNeeded:
    """A cortex → ModelDirectory when it stops: no more news about holders, please."""


@dataclass(frozen=True)
class Heartbeat:
    """ModelDirectory → a HostBeacon: are you there, and how busy are these processes?"""

    host: str  # the beacon's host, as the directory names it (echoed back)
    pids: tuple[int, ...] = ()  # the holders on that host
    orphan_after_s: float = 10.0  # without a heartbeat this long, the beacon ends those holders and itself


@dataclass(frozen=True)
class HostAlive:
    """HostBeacon → ModelDirectory."""

    host: str
    cpu_seconds: dict[int, float]  # pid → CPU time used so far (absent: no such process)


@dataclass(frozen=True)
class KillHolder:
    """ModelDirectory → the HostBeacon of a holder's host: it is hung, end its process."""

    pid: int


# -- the live view: told by the actor that owns what it shows ------------------------------


@dataclass(frozen=True)
class WatchModels:
    """Gateway → ModelDirectory: tell `watcher` its holders now, and again at each change."""

    watcher: Any


class HolderState(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"  # it could not load its models (`error` says why)
    LOST = "lost"  # none runs: the last one died, and the next waits for its backoff


@dataclass(frozen=True)
class HolderSeen:
    """One holder, or the lack of one, for a group of models that share a holder."""

    holder: int  # the directory's number for it (0: none now, LOST)
    host: str  # where it runs ("" for this machine)
    models: tuple[str, ...]
    state: HolderState
    pid: int = 0  # once READY
    devices: dict[str, str] = field(default_factory=dict)  # once READY: model → "CPU", "GPU:0 (…)"
    error: str = ""  # FAILED: why
    incoming: bool = False  # loading on a better host; takes over from the one serving now
    lost: int = 0  # holders of these models lost so far (died, hung, their host gone)
    last_lost: str = ""  # why the last one was lost


@dataclass(frozen=True)
class HostNow:
    """A joined host, as the directory sees it."""

    name: str
    state: str  # "joining", "up" or "lost" (actors/models/placement.py, HostState)


@dataclass(frozen=True)
class HoldersNow:
    """ModelDirectory → its watchers: every holder and joined host, whenever one changed
    (and at once to a new watcher, so one that watches late is right)."""

    holders: tuple[HolderSeen, ...]
    hosts: tuple[HostNow, ...] = ()


class CortexState(enum.Enum):
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


@dataclass(frozen=True)
class ModelLoading:
    """The holder is (re)loading; ModelAt follows when it is ready."""

    model: str


@dataclass(frozen=True)
class ModelUnavailable:
    model: str
    reason: str


@dataclass(frozen=True)
class HolderSuspect:
    """Cortex → ModelDirectory: this holder did not answer in time."""

    holder: Any


@dataclass(frozen=True)
class Infer:
    """Cortex → ModelHolder: one image, already resized to the model's input size (uint8 RGB)."""

    request_id: int
    model: str
    threshold: float
    image: Any = field(repr=False)  # numpy uint8 [H, W, 3], or SharedPixels from a cortex on this machine
    deadline: float = 0.0  # wall clock after which the asker no longer waits (0: none)
    reply_to: Any = None  # the asker, when it came over the holder link (its answer's other way)


@dataclass(frozen=True)
class Inferred:
    request_id: int
    result: Any = field(repr=False)  # what the recipe decodes: detections, an embedding…
    batch_size: int
    infer_ms: float
    queued: int = 0  # requests for this model still waiting at the holder after this batch


@dataclass(frozen=True)
class InferFailed:
    request_id: int
    error: str


# -- shared sources: one poller per X account, fanned out to subscribed cortexes -----------


@dataclass(frozen=True)
class Subscribe:
    """Cortex → poller (also sent again now and then: subscriptions not renewed expire)."""

    settings: MentionsSettings


@dataclass(frozen=True)
class Unsubscribe:
    pass


@dataclass(frozen=True)
class Mention:
    id: str
    text: str
    author_id: str
    username: str
    created_at: str


@dataclass(frozen=True)
class NewMentions:
    """Poller → each subscribed cortex: mentions not seen before, oldest first."""

    user_id: str
    mentions: tuple[Mention, ...]


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


@dataclass(frozen=True)
class LoadHead:
    """learned cortex → the holder of its feature model: load this trained head (a model
    file's bytes: the holder may be on another machine) as model `name`."""

    name: str
    model: bytes = field(repr=False)
    format: str = "tflite"  # or "keras" (a head trained before heads were converted)


@dataclass(frozen=True)
class HeadLoaded:
    name: str


@dataclass(frozen=True)
class HeadFailed:
    name: str
    error: str
