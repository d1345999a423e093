"""faces: says who the eye sees — "Hello, Olivier" or "unknown person" — and what each face
feels.

Faces are found by BlazeFace on the model holder; only frames with a face go on to be
compared (the gate: no face, no comparison and no cloud call). The comparison is
`local` (FaceRes embeddings on the holder, cosine similarity against faces enrolled
from the eye and kept on disk) or `rekognition` (AWS CompareFaces against reference
photos named in the config). Announcements are debounced per person. With an `emotion`
model, each face found (the same boxes: no second detector pass) also goes to it; the
scores, averaged over a second per face, and the reactions that start (moods.py) are the
`emotion` and `reaction` outputs.
"""

from __future__ import annotations

import hmac
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from actors.cortexes.faces.appearances import Appearances
from actors.cortexes.faces.enrolment import EnrolError, check_name, may_enroll, may_forget, to_forget
from actors.cortexes.faces.moods import REACTIONS, Moods, MoodSettings, Seen
from actors.cortexes.faces.store import FaceStore
from actors.frame_cortex import FrameCortex
from actors.imaging import ImageRejected, open_rgb
from actors.messages import Stimulus
from actors.models.emotion import CLASSES
from actors.models.faces import crop_box
from actors.models.messages import Inferred
from actors.params import bounded

UNKNOWN = "unknown person"


@dataclass
class _Frame:
    image: Image.Image
    width: int  # of the frame the eye sent
    height: int
    received: float
    jpeg: bytes
    faces: list = field(default_factory=list)  # Detections from BlazeFace
    embeddings: dict = field(default_factory=dict)  # face index → embedding
    emotions: dict = field(default_factory=dict)  # face index → {class: probability}
    named: list | None = None  # (name, score, face) per face, once compared


class Faces(FrameCortex, type_name="faces"):
    emits = ("faces", "faces-known", "forgot", "enrolled", "emotion", "reaction")
    commands = ("enroll", "forget", "faces")

    @dataclass(frozen=True)
    class Params:
        backend: str = bounded("local", choices=("local", "rekognition"))
        detector: str = "faces"  # [[model]] of kind blazeface
        embedder: str = "face-embeddings"  # [[model]] of kind faceres (local backend)
        emotion: str = ""  # [[model]] of kind emotion: what each face feels ("": not asked)
        emotion_window_s: float = bounded(1.0, minimum=0.0, maximum=10.0)  # its scores are averaged this long
        detect_threshold: float = bounded(0.6, minimum=0.05, maximum=1.0)
        #: cosine similarity of FaceRes embeddings (local backend)
        match_threshold: float = bounded(0.70, minimum=0.0, maximum=1.0)
        max_faces: int = bounded(5, minimum=1, maximum=20)
        announce_every_s: float = bounded(30.0, minimum=0.0)
        store_dir: str = "data/faces"
        #: an enrolment uses the last frame only if it is at most this old
        enroll_max_age_s: float = bounded(5.0, minimum=0.5)
        max_pixels: int = bounded(40_000_000, minimum=1024)
        #: JPEGs are decoded at the smallest scale that keeps this many pixels a side
        decode_side: int = bounded(640, minimum=256, maximum=4096)
        infer_timeout_ms: int = bounded(5000, minimum=50)
        #: Forgetting someone, or adding views to an enrolled name, needs them in front of
        #: the camera, or this token in the command ({"command": "forget", "name": …,
        #: "token": …}); the environment variable holds it (unset: only the person in view).
        admin_token_env: str = "CORTICAL_FACES_ADMIN_TOKEN"
        #: the most people enrolled (each is compared with every face seen, and an eye
        #: once enrolled 300 in 25 s); a new name beyond it is refused, token or not
        max_people: int = bounded(100, minimum=1, maximum=10_000)
        max_name_chars: int = bounded(60, minimum=1, maximum=200)
        # -- rekognition backend --
        references: dict = field(default_factory=dict)  # name → local path or s3://bucket/key
        similarity_threshold: float = bounded(80.0, minimum=0.0, maximum=100.0)
        region: str = ""  # "": from the standard AWS chain
        endpoint_url: str = ""
        max_concurrency: int = bounded(4, minimum=1, maximum=64)
        timeout_s: float = bounded(5.0, minimum=0.1, maximum=60.0)
        #: "appearance": a person who stays in view is compared once, when they appear
        #: (a cloud call each); "frame": every frame with a face is compared.
        compare: str = bounded("appearance", choices=("appearance", "frame"))
        gone_after_s: float = bounded(2.0, minimum=0.1, maximum=3600.0)  # unseen this long: they left
        recheck_every_s: float = bounded(0.0, minimum=0.0, maximum=86_400.0)  # compare a staying face again (0: never)

    def model_names(self) -> tuple[str, ...]:
        models = (
            (self.params.detector, self.params.embedder) if self.params.backend == "local" else (self.params.detector,)
        )
        return models + ((self.params.emotion,) if self.params.emotion else ())

    def on_start(self) -> None:
        self.store = FaceStore(self.params.store_dir, max_name_chars=self.params.max_name_chars)
        self.announced: dict[str, float] = {}  # name → when last said
        self.last: _Frame | None = None  # the last frame compared, for enrolment
        self.last_time = 0.0
        self.showing_faces = False
        self.frame: _Frame | None = None
        self.gate = {"frames": 0, "with_faces": 0, "comparisons": 0}
        self.deferred: list[tuple[str, dict]] = []  # commands waiting for the frame in flight
        self.moods = Moods(CLASSES, MoodSettings(window_s=self.params.emotion_window_s))
        if self.params.backend == "rekognition":
            from actors.cortexes.faces.rekognition import RekognitionBackend

            self.cloud = RekognitionBackend(self.params, self)
            self.appearances = Appearances(self.params.gone_after_s, self.params.recheck_every_s)
        super().on_start()

    # -- commands ------------------------------------------------------------------------

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind == "command":
            self.on_command(stimulus.text, stimulus.args)
        else:
            super().on_stimulus(stimulus)

    def on_command(self, command: str, args: dict) -> None:
        if command not in self.commands:
            return  # another cortex's command
        if command == "enroll" and (self._frame_waiting or (self._busy and self.frame is not self.last)):
            # The person pressed the button while a frame was on its way: use that frame.
            self.deferred.append((command, args))
            return
        self._command(command, args)

    def _command(self, command: str, args: dict) -> None:
        try:
            if command == "faces":
                known = ", ".join(self.store.names) or "nobody yet"
                self.emit("faces-known", f"I know {known}.", {"names": self.store.names})
                return
            if self.params.backend != "local":
                raise EnrolError(
                    "Enrolment is for the local backend; with Rekognition, list reference "
                    "photos under the cortex's references in the config."
                )
            if command == "forget":
                known = self.store.names
                name = to_forget(args.get("name"), known, self.params.max_name_chars)
                if name in known:  # (an unknown name: store.forget says so)
                    # any eye could otherwise make the brain forget anyone:
                    may_forget(name, self._in_view() if self._recent() else [], admin=self._admin(args))
                self.store.forget(name)
                self.announced.pop(name, None)
                self.emit("forgot", f"I have forgotten {name}.", {"name": name})
                return
            self._enroll(check_name(args.get("name"), self.params.max_name_chars), args)
        except EnrolError as exc:
            self.error(str(exc), {"command": command})

    def _admin(self, args: dict) -> bool:
        """Whether the command carries the faces admin token (never, when it is unset)."""
        token = os.environ.get(self.params.admin_token_env, "")
        offered = args.get("token")
        return bool(token) and isinstance(offered, str) and hmac.compare_digest(offered.encode(), token.encode())

    def _recent(self) -> bool:
        return self.last is not None and time.monotonic() - self.last_time <= self.params.enroll_max_age_s

    def _in_view(self) -> list[str | None]:
        """Who each face of the last frame is (None: nobody enrolled)."""
        return self.store.names_of(self.last.embeddings.values(), self.params.match_threshold)

    def _enroll(self, name: str, args: dict) -> None:
        if not self._recent():
            raise EnrolError(
                "I have not seen a frame in the last few seconds; turn the camera on, look at it, and try again."
            )
        if not self.last.faces:
            raise EnrolError("I see no face; look at the camera and try again.")
        if len(self.last.faces) > 1:
            raise EnrolError(f"I see {len(self.last.faces)} faces; only the person to remember should be in view.")
        (in_view,) = self._in_view()
        name = may_enroll(name, in_view, self.store.names, admin=self._admin(args), max_people=self.params.max_people)
        views = self.store.enroll(name, self.last.embeddings[0])
        self.announced.pop(name, None)  # greet them on the next frame
        self.emit("enrolled", f"I will remember {name}.", {"name": name, "views": views})

    # -- frames ----------------------------------------------------------------------------

    def on_frame(self, stimulus: Stimulus) -> None:
        try:
            image = open_rgb(stimulus.image, self.params.max_pixels, min_side=self.params.decode_side)
        except ImageRejected as exc:
            self.error(str(exc))
            self.frame_done()
            return
        width, height = image.info["original_size"]
        self.frame = _Frame(image, width, height, stimulus.received, stimulus.image)
        size = self.input_size(self.params.detector)
        pixels = np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR))
        self.gate["frames"] += 1
        self.infer(self.params.detector, pixels, self.params.detect_threshold, tag="detect")

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        frame = self.frame
        if tag == "detect":
            frame.faces = list(result[: self.params.max_faces])
            if not frame.faces:
                if self.params.backend == "rekognition":
                    self.appearances.known([], time.monotonic())  # nobody: every appearance is over
                self._publish(frame, [])  # the gate: nothing to compare
                return
            self.gate["with_faces"] += 1
            if self.params.emotion:  # (the face itself, not enlarged, as the model was measured)
                self._infer_faces(frame, self.params.emotion, "emotion", enlarge=1.0)
            if self.params.backend == "rekognition":
                boxes = [face.box for face in frame.faces]
                known = self.appearances.known(boxes, time.monotonic()) if self.params.compare == "appearance" else None
                if known is not None:  # everyone here was compared when they appeared
                    self._publish(frame, [(name, score, face) for (name, score), face in zip(known, frame.faces)])
                    return
                self.cloud.compare(frame)
                return
            self._infer_faces(frame, self.params.embedder, "embed")
            return
        what, index = tag
        if what == "emotion":
            frame.emotions[index] = result
            if frame.named is not None:
                self._publish(frame, frame.named)  # (the comparison was in first)
            return
        frame.embeddings[index] = result
        if len(frame.embeddings) < len(frame.faces):
            return
        self.gate["comparisons"] += 1
        named = []
        for index, face in enumerate(frame.faces):
            name, score = self.store.match(frame.embeddings[index])
            named.append(
                (name if name is not None and score >= self.params.match_threshold else None, max(score, 0.0), face)
            )
        self._publish(frame, named)

    def _infer_faces(self, frame: _Frame, model: str, what: str, **crop: float) -> None:
        """Each face of the frame, cropped square (crop_box; `crop`: its enlarge), to `model`."""
        side = self.input_size(model)
        for index, face in enumerate(frame.faces):
            region = frame.image.crop(crop_box(face.box, *frame.image.size, **crop))
            pixels = np.asarray(region.resize((side[1], side[0]), Image.Resampling.BILINEAR))
            self.infer(model, pixels, 0.0, tag=(what, index))

    def on_async_result(self, tag: Any, result: Any, error: Exception | None) -> None:
        self.cloud.on_result(tag, result, error)

    def on_stop(self) -> None:
        if self.params.backend == "rekognition":
            self.cloud.close()

    def on_cloud_result(self, frame: _Frame, named: list | None, error: str = "") -> None:
        """Called by the Rekognition backend with (name or None, similarity 0–1, face) per face."""
        if error:
            self.error(error, {"backend": "rekognition"})
            named = [(None, 0.0, face) for face in frame.faces]
        else:  # (a failed comparison is tried again on the next frame)
            boxes = [face.box for _, _, face in named]
            self.appearances.compared(boxes, [(name, score) for name, score, _ in named], time.monotonic())
        self.gate["comparisons"] += 1
        self._publish(frame, named)

    def _publish(self, frame: _Frame, named: list) -> None:
        frame.named = named
        if self.params.emotion and len(frame.emotions) < len(frame.faces):
            return  # (what the faces feel is on its way)
        self.last, self.last_time = frame, time.monotonic()
        self._publish_faces(frame, named)
        frame.image = None  # (enrolment needs its faces and embeddings, not 1.2 MB of pixels)
        self.on_frame_over()  # (the enrolment that waited for this frame, before the next starts)
        self.frame_done()

    def on_frame_over(self) -> None:
        # Carried out now, with the frame just over, not deferred again to a newer frame that
        # waits: under steady load one always does, and the enrolment would never be answered.
        deferred, self.deferred = self.deferred, []
        for command, args in deferred:
            self._command(command, args)

    def receiveMsg_ModelUnavailable(self, message, sender) -> None:
        super().receiveMsg_ModelUnavailable(message, sender)
        self.on_frame_over()  # (the frame it waited for will not start: answer with what there is)

    def _publish_faces(self, frame: _Frame, named: list) -> None:
        now = time.monotonic()
        boxes = [crop_box(face.box, frame.width, frame.height, enlarge=1.0) for _, _, face in named]
        moods, reactions = [], []
        if self.params.emotion:
            seen = [Seen(box, name, frame.emotions[i]) for i, (box, (name, _, _)) in enumerate(zip(boxes, named))]
            moods, reactions = self.moods.see(now, seen)
        if not named and not self.showing_faces:
            return  # still no face: nothing new to say
        self.showing_faces = bool(named)
        sayings = []
        for name, _, _ in named:
            key = name or UNKNOWN
            if now - self.announced.get(key, -1e9) >= self.params.announce_every_s:
                self.announced[key] = now
                sayings.append(f"Hello, {name}" if name else UNKNOWN)
        faces = [
            {
                "name": name,
                "label": name or UNKNOWN,
                "score": round(score, 3),
                "face_score": round(face.score, 3),
                "box": list(box),
            }
            for (name, score, face), box in zip(named, boxes)
        ]
        for face, mood in zip(faces, moods):
            face["emotion"] = mood.emotion
        self.emit(
            "faces",
            ", ".join(dict.fromkeys(sayings)),
            {
                "faces": faces,
                "width": frame.width,
                "height": frame.height,
                "dropped": self.dropped,
                "gate": dict(self.gate),
                "latency_ms": round((time.time() - frame.received) * 1000, 1),
            },
            self.meter(frame.received),
        )
        if moods:
            self._publish_moods(frame, faces, moods, reactions)

    def _publish_moods(self, frame: _Frame, faces: list[dict], moods: list, reactions: list) -> None:
        """Every frame with faces: what each feels (averaged); and each reaction that starts."""
        self.emit(
            "emotion",
            ", ".join(f"{face['label']}: {mood.emotion}" for face, mood in zip(faces, moods)),
            {
                "faces": [
                    {
                        "box": face["box"],
                        "name": face["name"],
                        "face": mood.face,
                        "emotion": mood.emotion,
                        "scores": mood.scores,
                    }
                    for face, mood in zip(faces, moods)
                ],
                "width": frame.width,
                "height": frame.height,
            },
        )
        for index, reaction in reactions:
            face, mood = faces[index], moods[index]
            self.emit(
                "reaction",
                f"{face['name'] or 'Someone'} {REACTIONS[reaction]}",
                {"reaction": reaction, "name": face["name"], "face": mood.face, "box": face["box"]},
            )
