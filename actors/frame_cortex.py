"""FrameCortex: the base of cortexes that look at frames with models on the model holder.

It finds the holder through the ModelDirectory (and talks to a holder on its machine over
the holder's link: actors/models/holder_link.py), keeps **latest frame wins** (while one
frame is being worked on, at most one newer frame waits; an older waiting frame is
dropped and counted), and times out every request: a message to a dead holder is lost
silently, so a request that outlives `infer_timeout_ms` becomes an `error` output, the
holder is reported as suspect, and its address is asked for again. When the directory
learns first that a holder is gone (its host stopped answering), it says so (HolderLost)
and a frame in flight becomes an `error` output at once.

A subclass says which models it needs (`model_names`), starts work on a frame in
`on_frame`, sends requests with `infer`, receives answers in `on_result`, and calls
`frame_done` when the frame is finished.
"""

from __future__ import annotations

import itertools
import logging
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from actors.cortex import Cortex
from actors.datagrams import read_datagrams, send_datagram
from actors.messages import (
    HolderLost,
    HolderSuspect,
    Infer,
    InferFailed,
    Inferred,
    Meter,
    ModelAt,
    ModelLoading,
    ModelsNotNeeded,
    ModelUnavailable,
    Stimulus,
    WhereIsModel,
)
from actors.models import holder_link
from actors.preload import tune_malloc
from actors.processes import cpu_seconds
from actors.shared_pixels import Pool

__all__ = ["FrameCortex"]

log = logging.getLogger(__name__)

_request_ids = itertools.count(1)

#: Say "the model is busy" at most this often (it is not an error: nothing to fix).
BUSY_NOTICE_EVERY_S = 30.0
#: Smaller inputs (a teach head's features) travel in the message: sharing costs syscalls.
SHARE_FROM_BYTES = 16 * 1024
#: Memory files kept for the next requests' pixels once their answers came.
PIXEL_FILES_IDLE = 4
#: Blocks up to this size stay in the heap for the next frame (a 1920×1280 JPEG decodes at
#: half scale for a 416-pixel model: 960×640, 2.5 MB; a 640×480 is 0.9 MB).
FRAME_BUFFERS_BYTES = 4 * 2**20


@dataclass(frozen=True)
class _Request:
    """An Infer in flight."""

    model: str
    tag: Any
    holder: Any  # where it went
    pid: int  # the holder's process if on this machine, else 0
    cpu: float | None  # that process's CPU seconds when sent: progress since tells busy from hung


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
        # The holder's CPU time now: at a timeout, progress since tells busy from hung.
        at = self._at[via or model]
        holder, pid = at.holder, 0 if at.host else at.pid  # (another machine's pid means nothing here)
        self._pending[request_id] = _Request(via or model, tag, holder, pid, cpu_seconds(pid))
        deadline = time.time() + self.params.infer_timeout_ms / 1000
        if not at.host and isinstance(image, np.ndarray) and image.nbytes >= SHARE_FROM_BYTES:
            handle = self._pixels.share(image)  # (a holder here reads the pixels from memory)
            if handle is not None:
                self._shared[request_id] = handle.fd
                image = handle
        request = Infer(request_id, model, threshold, image, deadline)
        link = self._link(at)
        if link is None or not send_datagram(link, replace(request, reply_to=self.myAddress)):
            self.send(holder, request)  # (another machine's holder, or its link is full or gone)
        self.after(self.params.infer_timeout_ms / 1000, InferTimeout(request_id))

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
        return self._links[at.link]

    def own_files(self) -> list[int]:
        return [*super().own_files(), *self._pixels.idle, *self._shared.values()]

    def watched_files(self) -> list[int]:
        return [link.fileno() for link in getattr(self, "_links", {}).values()]

    def on_files_ready(self, ready: list[int]) -> None:
        for name, link in list(getattr(self, "_links", {}).items()):
            if link.fileno() not in ready:
                continue
            answers, ended = read_datagrams(link)
            if ended:  # (the holder ended: what it had not answered times out, as by message)
                link.close()
                del self._links[name]
            for answer in answers:
                try:
                    if isinstance(answer, Inferred):
                        self.receiveMsg_Inferred(answer, None)
                    elif isinstance(answer, InferFailed):
                        self.receiveMsg_InferFailed(answer, None)
                except Exception:  # (the next frame's on_frame runs in there: the others must still land)
                    log.exception("cortex %s failed on a model's answer", self.name)

    def where(self, model: str) -> str:
        """The host of the holder serving `model` ("" for this machine), for meters."""
        at = self._at.get(model)
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
        return tuple(self._at[model].input_size)

    def frame_done(self) -> None:
        self._busy = False
        self._pending.clear()
        self._next()

    # -- machinery ---------------------------------------------------------------------

    def on_start(self) -> None:
        # Each frame decodes into the same ~1 MB buffers: mapping them anew at every frame
        # (the brain's 128 KB default, actors/preload.py) cost 1.7 ms a decode (measured).
        tune_malloc(mmap_threshold=FRAME_BUFFERS_BYTES, trim_threshold=2 * FRAME_BUFFERS_BYTES)
        self._at: dict[str, ModelAt] = {}  # model → where its holder is
        self._busy_told = -BUSY_NOTICE_EVERY_S
        self._pending: dict[int, _Request] = {}
        self._shared: dict[int, int] = {}  # request id → the memory file of its pixels
        self._pixels = Pool(PIXEL_FILES_IDLE)
        self._links: dict[str, socket.socket] = {}  # a holder's link → our connection to it
        self._busy = False
        self._waiting: Stimulus | None = None
        self.dropped = 0
        for model in self.model_names():
            self.send(self.services["models"], WhereIsModel(model))

    def _ready(self) -> bool:
        return all(model in self._at for model in self.model_names())

    def receiveMsg_ModelLoading(self, message: ModelLoading, sender) -> None:
        self.emit("status", f"Loading the {message.model} model…", {"model": message.model, "state": "loading"})

    def receiveMsg_ModelAt(self, message: ModelAt, sender) -> None:
        self._at[message.model] = message
        where = f" on host {message.host}" if message.host else ""
        self.emit(
            "status",
            f"The {message.model} model is ready{where}.",
            {
                "model": message.model,
                "state": "ready",
                "host": message.host,
                "pid": message.pid,
                "device": message.device,
            },
        )
        self._next()

    def receiveMsg_ModelUnavailable(self, message: ModelUnavailable, sender) -> None:
        self.error(
            f"{self.name} is unavailable: {message.reason}. Check the [[model]] stanza and run `make models`.",
            {"model": message.model},
        )

    def on_missed(self, stimulus: Stimulus) -> None:
        self.dropped += 1  # (as if a newer frame had replaced it while waiting: it had)

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind != "image":
            return
        if self._waiting is not None:
            self.dropped += 1
        self._waiting = stimulus
        self._next()

    def _next(self) -> None:
        while not self._busy and self._waiting is not None and self._ready():
            stimulus, self._waiting = self._waiting, None
            self._busy = True
            try:
                self.on_frame(stimulus)
            except Exception:
                self._busy = False
                raise

    def _unshare(self, request_id: int, answered: bool = True) -> None:
        fd = self._shared.pop(request_id, None)
        if fd is None:
            return
        if answered:  # (the holder has read it: the next request's pixels go in)
            self._pixels.give_back(fd)
        else:
            self._pixels.discard(fd)

    def receiveMsg_Inferred(self, message: Inferred, sender) -> None:
        self._unshare(message.request_id)
        if message.request_id not in self._pending:
            return  # an answer that came after its timeout
        tag = self._pending.pop(message.request_id).tag
        try:
            self.on_result(tag, message.result, message)
        except Exception as exc:
            self.error(f"{self.name} could not use the model's answer: {exc}.")
            self.frame_done()

    def receiveMsg_InferFailed(self, message: InferFailed, sender) -> None:
        self._unshare(message.request_id)
        if self._pending.pop(message.request_id, None) is None:
            return  # (including frames the holder skipped after we gave up on them)
        self.error(f"The model could not look at that frame: {message.error}.")
        self.frame_done()

    def on_timer(self, payload: Any) -> None:
        if not isinstance(payload, InferTimeout):
            return
        self._unshare(payload.request_id, answered=False)  # (a holder reading it late gets an error)
        request = self._pending.get(payload.request_id)
        if request is None:
            return
        model = request.model
        at = self._at.get(model)
        if at is None or request.holder != at.holder:
            self.frame_done()  # it went to a holder since replaced (moved, or already lost)
            return
        cpu_now = cpu_seconds(request.pid)
        if request.cpu is not None and cpu_now is not None and cpu_now > request.cpu:
            # Late but working: the holder is busy with many eyes. Killing it would make
            # things worse; skip this frame, and say so now and then (not an error).
            now = time.monotonic()
            if now - self._busy_told >= BUSY_NOTICE_EVERY_S:
                self._busy_told = now
                self.emit(
                    "status",
                    f"The {model} model is busy: answers are slow and some frames are skipped.",
                    {"model": model, "state": "busy"},
                )
            self.frame_done()
            return
        host = at.host
        if host:  # its CPU time is on the other machine: the directory's heartbeat knows it
            self.error(
                f"The {model} model on host {host} did not answer within {self.params.infer_timeout_ms} ms; "
                "that frame is skipped and the model is being checked.",
                {"model": model, "host": host},
            )
        else:
            self.error(
                f"The {model} model did not answer within {self.params.infer_timeout_ms} ms; it is being "
                "restarted and this will resume by itself.",
                {"model": model},
            )
        self.send(self.services["models"], HolderSuspect(at.holder))
        self._forget_holder(at.holder)
        self.frame_done()

    def receiveMsg_HolderLost(self, message: HolderLost, sender) -> None:
        if not any(at.holder == message.holder for at in self._at.values()):
            return  # (this cortex already gave up on it)
        in_flight = [r.model for r in self._pending.values() if r.holder == message.holder]
        self._forget_holder(message.holder)
        if in_flight:
            self.error(
                f"The {in_flight[0]} model is unavailable for now: {message.reason}. This will resume by itself.",
                {"model": in_flight[0]},
            )
            self.frame_done()
        else:
            self.emit("status", f"Models are moving: {message.reason}.", {"state": "loading"})

    def _forget_holder(self, holder) -> None:
        """Drop every model served by `holder` (all models of a holder go with it) and ask again."""
        for model in [m for m, at in self._at.items() if at.holder == holder]:
            del self._at[model]
        for name in self.model_names():
            if name not in self._at:
                self.send(self.services["models"], WhereIsModel(name))

    def receiveMsg_ActorExitRequest(self, message, sender) -> None:
        try:
            super().receiveMsg_ActorExitRequest(message, sender)
        finally:
            for link in getattr(self, "_links", {}).values():
                link.close()
            if getattr(self, "_pixels", None) is not None:
                self._pixels.close()
            if "models" in getattr(self, "services", {}):
                self.send(self.services["models"], ModelsNotNeeded())
