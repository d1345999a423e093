"""objects: names what the eye sees ("cup (87%)") with a COCO detector on the model holder.

Latest frame wins: while one frame is with the model, at most one newer frame waits;
an older waiting frame is dropped and counted. Decoding happens here, in the cortex's
own process, so many eyes decode in parallel while the holder infers.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from actors.cortex import Cortex
from actors.imaging import ImageRejected, decode_for_model
from actors.messages import (HolderSuspect, Infer, Inferred, InferFailed, ModelAt, ModelLoading,
                             ModelUnavailable, Stimulus, WhereIsModel)
from actors.params import bounded

_request_ids = itertools.count(1)


@dataclass
class _InFlight:
    request_id: int
    width: int
    height: int
    received: float  # wall clock when the gateway parsed the frame
    started: float  # wall clock when this cortex began decoding it
    sent: float  # wall clock when it went to the holder


class Objects(Cortex, type_name="objects"):
    @dataclass(frozen=True)
    class Params:
        model: str = "objects"  # a [[model]] name
        threshold: float = bounded(0.35, minimum=0.01, maximum=1.0)
        max_labels: int = bounded(5, minimum=1, maximum=100)
        max_pixels: int = bounded(40_000_000, minimum=1024)
        infer_timeout_ms: int = bounded(5000, minimum=50)

    def on_start(self) -> None:
        self.holder: Any = None
        self.input_size: tuple[int, int] | None = None
        self.in_flight: _InFlight | None = None
        self.waiting: Stimulus | None = None
        self.dropped = 0
        self.unavailable = ""
        self.told_ready = False
        self._ask_directory()

    def _ask_directory(self) -> None:
        self.holder = None
        self.send(self.services["models"], WhereIsModel(self.params.model))

    # -- the directory's answers ------------------------------------------------------

    def receiveMsg_ModelLoading(self, message: ModelLoading, sender) -> None:
        self.emit("status", f"Loading the {self.params.model} model…", {"model": self.params.model, "state": "loading"})

    def receiveMsg_ModelAt(self, message: ModelAt, sender) -> None:
        self.holder, self.input_size, self.unavailable = message.holder, tuple(message.input_size), ""
        self.emit("status", f"The {self.params.model} model is ready.", {"model": self.params.model, "state": "ready"})
        self._next()

    def receiveMsg_ModelUnavailable(self, message: ModelUnavailable, sender) -> None:
        self.unavailable = message.reason
        self.error(f"Object recognition is unavailable: {message.reason}. Check the [[model]] stanza and "
                   "run `make models`.", {"model": self.params.model})

    # -- frames -------------------------------------------------------------------------

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind != "image":
            return
        if self.waiting is not None:
            self.dropped += 1  # latest frame wins
        self.waiting = stimulus
        self._next()

    def _next(self) -> None:
        while self.in_flight is None and self.waiting is not None and self.holder is not None:
            stimulus, self.waiting = self.waiting, None
            started = time.time()
            try:
                pixels, width, height = decode_for_model(stimulus.image, self.input_size, self.params.max_pixels)
            except ImageRejected as exc:
                self.error(str(exc))
                continue
            request_id = next(_request_ids)
            self.in_flight = _InFlight(request_id, width, height, stimulus.received, started, time.time())
            self.send(self.holder, Infer(request_id, self.params.model, self.params.threshold, pixels))
            self.after(self.params.infer_timeout_ms / 1000, ("timeout", request_id))

    def receiveMsg_Inferred(self, message: Inferred, sender) -> None:
        flight = self.in_flight
        if flight is None or message.request_id != flight.request_id:
            return  # an answer that came after its timeout
        self.in_flight = None
        detections = message.detections[: self.params.max_labels]
        text = ", ".join(f"{d.label} ({d.score:.0%})" for d in detections) or "Nothing I know."
        self.emit("label", text, {
            "detections": [d.as_dict(flight.width, flight.height) for d in detections],
            "width": flight.width, "height": flight.height, "dropped": self.dropped,
            "batch": message.batch_size, "infer_ms": round(message.infer_ms, 1),
            "latency_ms": round((time.time() - flight.received) * 1000, 1),
            # Where the time went: waiting to be decoded, decoding, and at the holder.
            "timing_ms": {"queued": round((flight.started - flight.received) * 1000, 1),
                          "decode": round((flight.sent - flight.started) * 1000, 1),
                          "holder": round((time.time() - flight.sent) * 1000, 1)},
        })
        self._next()

    def receiveMsg_InferFailed(self, message: InferFailed, sender) -> None:
        if self.in_flight is None or message.request_id != self.in_flight.request_id:
            return
        self.in_flight = None
        self.error(f"The model could not look at that frame: {message.error}.")
        self._next()

    def on_timer(self, payload: Any) -> None:
        kind, request_id = payload
        if kind != "timeout" or self.in_flight is None or self.in_flight.request_id != request_id:
            return
        self.in_flight = None
        self.error(f"The {self.params.model} model did not answer within {self.params.infer_timeout_ms} ms; "
                   "it is being restarted and recognition will resume by itself.", {"model": self.params.model})
        self.send(self.services["models"], HolderSuspect(self.holder))
        self._ask_directory()
