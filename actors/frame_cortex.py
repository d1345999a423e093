"""FrameCortex: the base of cortexes that look at frames with models on the model holder.

It is the shell around `FrameFlow` (actors/frame_flow.py), which decides everything:
**latest frame wins** (while one frame is being worked on, at most one newer frame
waits; an older waiting frame is dropped and counted), every request's deadline and the
verdict on a late one (busy, or hung: reported as suspect and asked for again), and what
happens when the directory says a holder is lost. Here: finding the holder through the
ModelDirectory, talking to a holder on this machine over its link
(actors/dataplane/holder_link.py) with pixels in memory files, reading the clocks and the
holder's CPU time, timers, and carrying out the flow's commands.

A subclass says which models it needs (`model_names`), starts work on a frame in
`on_frame`, sends requests with `infer`, receives answers in `on_result`, and calls
`frame_done` when the frame is finished.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import logging
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from actors.cortex import Cortex
from actors.dataplane import holder_link
from actors.dataplane.datagrams import read_datagrams, send_datagram
from actors.dataplane.shared_pixels import SHARE_FROM_BYTES, Pool
from actors.frame_flow import (
    AskWhere,
    Command,
    Deliver,
    FrameFlow,
    ReportSuspect,
    Start,
    Tell,
    WakeAfter,
    local_pid,
)
from actors.messages import Meter, Stimulus
from actors.models.messages import (
    HolderLost,
    HolderSuspect,
    Infer,
    InferFailed,
    Inferred,
    ModelAt,
    ModelLoading,
    ModelsNotNeeded,
    ModelUnavailable,
    WhereIsModel,
)
from actors.preload import tune_malloc
from actors.processes import cpu_seconds

__all__ = ["FrameCortex"]

log = logging.getLogger(__name__)

_request_ids = itertools.count(1)
_libc = ctypes.CDLL("libc.so.6")

#: Memory files kept for the next requests' pixels once their answers came.
PIXEL_FILES_IDLE = 4
#: Blocks up to this size stay in the heap for the next frame (a 1920×1280 JPEG decodes at
#: half scale for a 416-pixel model: 960×640, 2.5 MB; a 640×480 is 0.9 MB).
FRAME_BUFFERS_BYTES = 4 * 2**20


@dataclass(frozen=True)
class InferTimeout:
    """Timer: the answer to this request is due."""

    request_id: int


class FrameCortex(Cortex):
    # -- for subclasses ----------------------------------------------------------------

    def model_names(self) -> tuple[str, ...]:
        """The [[model]] names this cortex needs on the holder."""
        raise NotImplementedError

    def on_frame(self, stimulus: Stimulus) -> None:
        """Start work on a frame; call frame_done() when finished (now or later)."""
        raise NotImplementedError

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        """The holder's answer to infer(..., tag)."""

    def infer(self, model: str, image, threshold: float, tag: Any, via: str = "") -> None:
        """Ask for `model` on an image (or features); `via`: the configured model whose
        holder also holds this one (a head hot-loaded there)."""
        request_id = next(_request_ids)
        at = self._flow.at[via or model]
        # The holder's CPU time now: at a timeout, progress since tells busy from hung.
        commands = self._flow.sent(request_id, via or model, tag, cpu_seconds(local_pid(at)))
        deadline = time.time() + self.params.infer_timeout_ms / 1000
        if not at.host and isinstance(image, np.ndarray) and image.nbytes >= SHARE_FROM_BYTES:
            handle = self._pixels.share(image)  # (a holder here reads the pixels from memory)
            if handle is not None:
                self._shared[request_id] = handle.fd
                image = handle
        request = Infer(request_id, model, threshold, image, deadline)
        link = self._link(at)
        if link is None or not send_datagram(link, replace(request, reply_to=self.myAddress)):
            self.send(at.holder, request)  # (another machine's holder, or its link is full or gone)
        self._do(commands)  # (its timer)

    def _link(self, at: ModelAt) -> socket.socket | None:
        """Our connection to the holder's link, if it is on this machine (made on first use;
        None, and messages, while it cannot be made)."""
        if at.host or not at.link:
            return None
        if at.link not in self._links:
            link = holder_link.connect(at.link, at.pid)
            if link is None:
                return None
            self._links[at.link] = link
            self.watch_file(link.fileno(), functools.partial(self._read_link, at.link))
        return self._links[at.link]

    def own_files(self) -> list[int]:
        links = [link.fileno() for link in getattr(self, "_links", {}).values()]
        return [*super().own_files(), *links, *self._pixels.idle, *self._shared.values()]

    def _read_link(self, name: str) -> None:
        """The holder's answers on its link `name`."""
        link = self._links[name]
        answers, ended = read_datagrams(link)
        if ended:  # (the holder ended: what it had not answered times out, as by message)
            self.unwatch_file(link.fileno())
            link.close()
            del self._links[name]
        for answer in answers:
            try:
                if isinstance(answer, Inferred):
                    self._answered(answer)
                elif isinstance(answer, InferFailed):
                    self._failed(answer)
            except Exception:  # (the next frame's on_frame runs in there: the others must still land)
                log.exception("cortex %s failed on a model's answer", self.name)

    def where(self, model: str) -> str:
        """The host of the holder serving `model` ("" for this machine), for meters."""
        at = self._flow.at.get(model)
        return at.host if at is not None else ""

    def meter(self, received: float, model: str = "", served: Inferred | None = None) -> Meter:
        """What /metrics and the live view count of an output: its latency from `received`,
        and the holder's batch and queue when `model` answered it (`served`)."""
        return Meter(
            latency_ms=(time.time() - received) * 1000,
            batch=served.batch_size if served else None,
            queued=served.queued if served else None,
            frames_dropped=self.dropped,
            model=model if served else "",
            host=self.where(model) if served else "",
        )

    def input_size(self, model: str) -> tuple[int, int]:
        return tuple(self._flow.at[model].input_size)

    def frame_done(self) -> None:
        commands = self._flow.frame_done()
        _libc.malloc_trim(0)  # (what the frame's answers built is free: see _do's Start)
        self._do(commands)

    @property
    def dropped(self) -> int:
        """Frames dropped so far: replaced while waiting (latest frame wins), or missed."""
        return self._flow.dropped

    # (Read by subclasses: faces defers an enrolment while a frame is in work or waits; learned
    # loads its head on the holder of its feature model.)
    @property
    def _busy(self) -> bool:
        return self._flow.busy

    @property
    def _frame_waiting(self) -> bool:
        """A frame waits for the one in work, or for its models' holder (in a cortex that
        frame has just started)."""
        return self._flow.waiting is not None

    @property
    def _at(self) -> dict[str, ModelAt]:
        return self._flow.at

    # -- machinery ---------------------------------------------------------------------

    def _do(self, commands: list[Command]) -> None:
        """Carry out the flow's commands, in order."""
        for command in commands:
            match command:
                case AskWhere(model):
                    self.send(self.services["models"], WhereIsModel(model))
                case Tell(kind, text, data):
                    self.emit(kind, text, data)
                case ReportSuspect(holder):
                    self.send(self.services["models"], HolderSuspect(holder))
                case WakeAfter(seconds, request_id):
                    self.after(seconds, InferTimeout(request_id))
                case Start(frame):
                    try:
                        self.on_frame(frame)
                    except Exception:
                        self._flow.frame_failed()
                        self._frames_over()
                        raise
                    # Its pixels are in a memory file now: the decode's buffers (~1-3 MB) go
                    # back to the system, not kept dirty while the holder works (most of the
                    # time under load). ~1 ms a frame in page faults at the next decode
                    # (measured); 3.2 MiB PSS less per objects cortex at 50 eyes.
                    _libc.malloc_trim(0)
                case Deliver(tag, answer):
                    try:
                        self.on_result(tag, answer.result, answer)
                    except Exception as exc:
                        self._do(self._flow.unusable(exc))
        self._frames_over()

    def _frames_over(self) -> None:
        if self._flow.frames_over != self._over_seen:
            self._over_seen = self._flow.frames_over
            self.on_frame_over()

    def on_frame_over(self) -> None:
        """A frame is over: answered, failed, or given up on (its model failed or timed out).
        Faces then carries out the enrolment that waited for it."""

    def on_start(self) -> None:
        # Each frame decodes into the same ~1 MB buffers: mapping them anew at every frame
        # (the brain's 128 KB default, actors/preload.py) cost 1.7 ms a decode (measured).
        tune_malloc(mmap_threshold=FRAME_BUFFERS_BYTES, trim_threshold=2 * FRAME_BUFFERS_BYTES)
        self._flow = FrameFlow(self.name, self.model_names(), self.params.infer_timeout_ms)
        self._over_seen = 0
        self._shared: dict[int, int] = {}  # request id → the memory file of its pixels
        self._pixels = Pool(PIXEL_FILES_IDLE)
        self._links: dict[str, socket.socket] = {}  # a holder's link → our connection to it
        self._do(self._flow.start())

    def receiveMsg_ModelLoading(self, message: ModelLoading, sender) -> None:
        self._do(self._flow.loading(message.model))

    def receiveMsg_ModelAt(self, message: ModelAt, sender) -> None:
        self._do(self._flow.model_at(message))

    def receiveMsg_ModelUnavailable(self, message: ModelUnavailable, sender) -> None:
        self._do(self._flow.unavailable(message.model, message.reason))

    def on_missed(self, stimulus: Stimulus) -> None:
        self._flow.missed()

    def on_stimulus(self, stimulus: Stimulus) -> None:
        self._do(self._flow.arrived(stimulus))

    def _unshare(self, request_id: int, answered: bool = True) -> None:
        fd = self._shared.pop(request_id, None)
        if fd is None:
            return
        if answered:  # (the holder has read it: the next request's pixels go in)
            self._pixels.give_back(fd)
        else:
            self._pixels.discard(fd)

    def receiveMsg_Inferred(self, message: Inferred, sender) -> None:
        self._answered(message)

    def receiveMsg_InferFailed(self, message: InferFailed, sender) -> None:
        self._failed(message)

    def _answered(self, message: Inferred) -> None:
        """The holder's answer, by message or over its link."""
        self._unshare(message.request_id)
        self._do(self._flow.answered(message))

    def _failed(self, message: InferFailed) -> None:
        self._unshare(message.request_id)
        self._do(self._flow.failed(message.request_id, message.error))

    def on_timer(self, payload: Any) -> None:
        if not isinstance(payload, InferTimeout):
            return
        self._unshare(payload.request_id, answered=False)  # (a holder reading it late gets an error)
        pid = self._flow.pid_of(payload.request_id)
        if pid is None:
            return  # answered, or its frame finished
        self._do(self._flow.timed_out(payload.request_id, cpu_seconds(pid), time.monotonic()))

    def receiveMsg_HolderLost(self, message: HolderLost, sender) -> None:
        self._do(self._flow.holder_lost(message.holder, message.reason))

    def receiveMsg_ActorExitRequest(self, message, sender) -> None:
        try:
            super().receiveMsg_ActorExitRequest(message, sender)
        finally:
            for link in getattr(self, "_links", {}).values():
                self.unwatch_file(link.fileno())
                link.close()
            if getattr(self, "_pixels", None) is not None:
                self._pixels.close()
            if "models" in getattr(self, "services", {}):
                self.send(self.services["models"], ModelsNotNeeded())
