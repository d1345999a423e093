"""sentry: an unknown person in view (a person detected, no enrolled face recognised)
raises one alert per appearance: a POST to the webhook (the time, the eye and a JPEG
snapshot; retried with backoff, never holding up the eye), an `alert` output, and the
snapshot kept on disk for `keep_days`. No other frame is ever written anywhere.

Who is enrolled comes from the faces store (the faces cortex's "Remember my face").
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image

from actors.cortexes.faces.store import FaceStore
from actors.cortexes.sentry import archive
from actors.cortexes.sentry.watch import Watch
from actors.cortexes.sentry.webhook import deliver
from actors.frame_cortex import FrameCortex
from actors.imaging import ImageRejected, open_rgb
from actors.messages import Stimulus
from actors.models.faces import crop_box
from actors.models.messages import Inferred
from actors.params import bounded

log = logging.getLogger(__name__)


class Sentry(FrameCortex, type_name="sentry"):
    emits = ("alert",)

    @dataclass(frozen=True)
    class Params:
        objects_model: str = "objects"  # [[model]] names: a COCO detector, BlazeFace, FaceRes
        detector: str = "faces"
        embedder: str = "face-embeddings"
        person_threshold: float = bounded(0.4, minimum=0.05, maximum=1.0)
        detect_threshold: float = bounded(0.6, minimum=0.05, maximum=1.0)
        match_threshold: float = bounded(0.70, minimum=0.0, maximum=1.0)
        store_dir: str = "data/faces"  # who is enrolled (the faces cortex's store)
        webhook_url: str = ""  # "": alerts are kept and shown, not posted
        webhook_retries: int = bounded(4, minimum=0, maximum=20)
        webhook_backoff_s: float = bounded(1.0, minimum=0.0, maximum=600.0)  # doubled at each retry
        webhook_timeout_s: float = bounded(5.0, minimum=0.1, maximum=120.0)
        max_pending: int = bounded(8, minimum=1, maximum=1000)  # alerts on their way; beyond, not posted
        alerts_dir: str = "data/alerts"
        keep_days: float = bounded(7.0, minimum=0.01, maximum=3650.0)
        gone_after_s: float = bounded(5.0, minimum=0.1, maximum=3600.0)  # nobody this long: the appearance is over
        confirm_frames: int = bounded(2, minimum=1, maximum=100)  # frames in a row before an alert
        max_pixels: int = bounded(40_000_000, minimum=1024)
        infer_timeout_ms: int = bounded(5000, minimum=50)

    def model_names(self) -> tuple[str, ...]:
        return (self.params.objects_model, self.params.detector, self.params.embedder)

    def on_start(self) -> None:
        super().on_start()
        self.store = FaceStore(self.params.store_dir)
        self.watch = Watch(self.params.gone_after_s, self.params.confirm_frames)
        self.pending = 0
        self.alerts = 0
        gone = archive.purge(self.params.alerts_dir, self.params.keep_days)
        if gone:
            log.info("deleted %d alert snapshots older than %g days", gone, self.params.keep_days)

    def on_frame(self, stimulus: Stimulus) -> None:
        try:
            image = open_rgb(stimulus.image, self.params.max_pixels, min_side=640)
        except ImageRejected as exc:
            self.error(str(exc))
            self.frame_done()
            return
        self.frame = {"image": image, "jpeg": stimulus.image, "embeddings": {}, "faces": []}
        height, width = self.input_size(self.params.objects_model)
        pixels = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
        self.infer(self.params.objects_model, pixels, self.params.person_threshold, tag="objects")

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        frame = self.frame
        if tag == "objects":
            if not any(d.label == "person" for d in result):
                self._decide(person=False, known=False)
                return
            height, width = self.input_size(self.params.detector)
            pixels = np.asarray(frame["image"].resize((width, height), Image.Resampling.BILINEAR))
            self.infer(self.params.detector, pixels, self.params.detect_threshold, tag="faces")
            return
        if tag == "faces":
            frame["faces"] = list(result[:5])
            if not frame["faces"]:
                self._decide(person=True, known=False)  # (a face turned away is no one we know)
                return
            height, width = self.input_size(self.params.embedder)
            for index, face in enumerate(frame["faces"]):
                crop = frame["image"].crop(crop_box(face.box, *frame["image"].size))
                pixels = np.asarray(crop.resize((width, height), Image.Resampling.BILINEAR))
                self.infer(self.params.embedder, pixels, 0.0, tag=("embed", index))
            return
        frame["embeddings"][tag[1]] = result
        if len(frame["embeddings"]) == len(frame["faces"]):
            matches = [self.store.match(e) for e in frame["embeddings"].values()]
            known = any(name is not None and score >= self.params.match_threshold for name, score in matches)
            self._decide(person=True, known=known)

    def _decide(self, person: bool, known: bool) -> None:
        if self.watch.see(time.monotonic(), person, known):
            self._alert(self.frame["jpeg"])
        self.frame_done()

    def _alert(self, jpeg: bytes) -> None:
        p = self.params
        self.alerts += 1
        now = time.time()
        path = archive.keep(p.alerts_dir, jpeg, self._session_id or "eye", now)
        archive.purge(p.alerts_dir, p.keep_days, now)
        when = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
        posted = ""
        if p.webhook_url and self.pending < p.max_pending:
            self.pending += 1
            payload = {
                "time": when,
                "eye": self._session_id,
                "text": "An unknown person is in view.",
                "snapshot": {"contentType": "image/jpeg", "content": base64.b64encode(jpeg).decode()},
            }
            self.async_worker().submit(
                lambda: deliver(p.webhook_url, payload, p.webhook_retries, p.webhook_backoff_s, p.webhook_timeout_s),
                tag=when,
            )
            posted = "; alert sent"
        elif p.webhook_url:
            posted = f"; not posted: {p.max_pending} alerts are still on their way (is the webhook down?)"
        self.emit(
            "alert",
            f"An unknown person is in view{posted}.",
            # (file: where the snapshot is kept, for MQTT's …/alert/snapshot: brain/home/)
            {"time": when, "snapshot": path.name, "file": str(path), "alerts": self.alerts},
        )

    def on_async_result(self, tag: Any, result: Any, error: Exception | None) -> None:
        self.pending -= 1
        if error is not None:
            log.warning("the alert of %s was not delivered: %s", tag, error)
            self.error(
                f"The alert of {tag} could not be delivered after {self.params.webhook_retries + 1} tries "
                f"({type(error).__name__}: {error}); its snapshot is kept on disk.",
                {"alert": tag},
            )
        else:
            log.info("the alert of %s was delivered (attempt %d)", tag, result)
