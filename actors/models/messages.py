"""Between the model directory, the holders, their hosts' beacons and the cortexes that
ask for inference, and what the directory tells the live view of its holders.

Small frozen dataclasses: picklable, comparable, and readable in one screen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (the config's results, in actors/specs.py)
    from actors.specs import HolderSettings, ModelSpec

__all__ = [
    "StartDirectory",
    "LoadModels",
    "ModelsLoaded",
    "ModelsFailed",
    "WhereIsModel",
    "ModelAt",
    "HolderLost",
    "ModelsNotNeeded",
    "Heartbeat",
    "HostAlive",
    "KillHolder",
    "WatchModels",
    "HolderState",
    "HolderSeen",
    "HostNow",
    "HoldersNow",
    "ModelLoading",
    "ModelUnavailable",
    "HolderSuspect",
    "Infer",
    "Inferred",
    "InferFailed",
    "LoadHead",
    "HeadLoaded",
    "HeadFailed",
]


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
