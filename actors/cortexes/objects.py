"""objects: names what the eye sees ("cup (87%)") with a COCO detector on the model holder.

Decoding happens here, in the cortex's own process, so many eyes decode in parallel
while the holder infers. Latest frame wins (see FrameCortex).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from actors.frame_cortex import FrameCortex
from actors.imaging import ImageRejected, decode_for_model
from actors.messages import Stimulus
from actors.models.messages import Inferred
from actors.params import bounded


class Objects(FrameCortex, type_name="objects"):
    emits = ("label",)

    @dataclass(frozen=True)
    class Params:
        model: str = "objects"  # a [[model]] name
        threshold: float = bounded(0.35, minimum=0.01, maximum=1.0)
        max_labels: int = bounded(5, minimum=1, maximum=100)  # things named in the label's text
        # Boxes in the label's data: more than it names, as the page draws every person and
        # the pose cortex crops each one it hears of (a group of six needs six).
        max_boxes: int = bounded(20, minimum=1, maximum=100)
        max_pixels: int = bounded(40_000_000, minimum=1024)
        infer_timeout_ms: int = bounded(5000, minimum=50)

    def model_names(self) -> tuple[str, ...]:
        return (self.params.model,)

    def on_frame(self, stimulus: Stimulus) -> None:
        started = time.time()
        try:
            pixels, width, height = decode_for_model(
                stimulus.image, self.input_size(self.params.model), self.params.max_pixels
            )
        except ImageRejected as exc:
            self.error(str(exc))
            self.frame_done()
            return
        self.frame = (width, height, stimulus.received, started, time.time())
        self.infer(self.params.model, pixels, self.params.threshold, tag=None)

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        width, height, received, started, sent = self.frame
        detections = result[: max(self.params.max_boxes, self.params.max_labels)]
        named = detections[: self.params.max_labels]
        text = ", ".join(f"{d.label} ({d.score:.0%})" for d in named) or "Nothing I know."
        now = time.time()
        self.emit(
            "label",
            text,
            {
                "detections": [d.as_dict(width, height) for d in detections],
                "width": width,
                "height": height,
                "dropped": self.dropped,
                "batch": message.batch_size,
                "infer_ms": round(message.infer_ms, 1),
                "latency_ms": round((now - received) * 1000, 1),
                # Where the time went: waiting to be decoded, decoding, and at the holder.
                "timing_ms": {
                    "queued": round((started - received) * 1000, 1),
                    "decode": round((sent - started) * 1000, 1),
                    "holder": round((now - sent) * 1000, 1),
                },
            },
            self.meter(received, self.params.model, message),
        )
        self.frame_done()
