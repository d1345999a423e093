"""learned: the teach commands, and predictions with a trained head, frame by frame.

Commands (the wire contract; README, "Teach it"):
- teach.sample {project, label}: keep the eye's latest frame as a sample → `teach` (counts);
- teach.train {project, features: "pose" | "image"}: a Trainer actor trains a head
  → `training` outputs (epoch, val_accuracy), then `trained` (accuracy per class,
  confusion matrix, labels);
- teach.use {project}: predict with its latest version → a `class` output per frame
  ("<class> (NN%)"); a pose class that starts is also a `gesture` event, debounced as
  gestures are;
- teach.forget {project, label, sample}: delete one sample → `teach` (counts);
- teach.projects: the projects and their classes → `teach`.
The trained head is hot-loaded into the holder of the feature model (LoadHead): no
restart, and the holder batches it like any model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from thespian.actors import ChildActorExited

from actors.cortexes.learned.features import pose_vector
from actors.cortexes.learned.messages import Progress, Train, Trained, TrainingFailed
from actors.cortexes.learned.store import TeachError, TeachLimits, TeachStore
from actors.cortexes.learned.trainer import Trainer, jpeg_of
from actors.cortexes.pose.body import visible
from actors.debounce import Debouncer, DebounceSettings
from actors.frame_cortex import FrameCortex
from actors.imaging import ImageRejected, decode_for_model, open_rgb
from actors.messages import Stimulus
from actors.models.messages import HeadFailed, HeadLoaded, Inferred, LoadHead, ModelAt
from actors.params import bounded


class Learned(FrameCortex, type_name="learned"):
    emits = ("teach", "training", "trained", "class", "gesture")
    commands = ("teach.sample", "teach.train", "teach.use", "teach.forget", "teach.projects")
    # An eye that never teaches never pays for this process; teach.sample takes the frame
    # the page sent just before it, which its Session keeps while this waits.
    wakes_on = ("command",)
    holds = ("image",)

    @dataclass(frozen=True)
    class Params:
        store_dir: str = "data/teach"
        pose_model: str = "pose"  # [[model]] names on the holder
        image_model: str = "image-features"
        pose_model_path: str = "models/movenet-lightning.tflite"  # the trainer's own copies
        image_model_path: str = "models/centernet-embedding.tflite"
        max_projects: int = bounded(20, minimum=1, maximum=1000)
        max_classes: int = bounded(10, minimum=2, maximum=100)
        max_samples_per_class: int = bounded(500, minimum=1, maximum=100_000)
        max_bytes: int = bounded(200_000_000, minimum=1_000_000)
        min_samples_per_class: int = bounded(5, minimum=2, maximum=1000)
        sample_max_age_s: float = bounded(3.0, minimum=0.1, maximum=60.0)  # teach.sample takes a frame this recent
        sample_max_side: int = bounded(512, minimum=64, maximum=2048)
        max_epochs: int = bounded(100, minimum=1, maximum=1000)
        mirror_poses: bool = True  # pose samples also teach their mirror image (not for left/right classes)
        min_keypoints: int = bounded(8, minimum=0, maximum=17)
        min_p: float = bounded(0.94, minimum=0.0, maximum=1.0)
        max_pixels: int = bounded(40_000_000, minimum=1024)
        infer_timeout_ms: int = bounded(5000, minimum=50)

    def model_names(self) -> tuple[str, ...]:
        return (self.params.pose_model, self.params.image_model)

    def on_start(self) -> None:
        super().on_start()
        p = self.params
        limits = TeachLimits(
            p.max_projects, p.max_classes, p.max_samples_per_class, p.max_bytes, p.min_samples_per_class
        )
        self.store = TeachStore(p.store_dir, limits)
        self.latest: tuple[bytes, float] | None = None  # the eye's last frame, for teach.sample
        self.trainer = None  # (address, project) of a training under way
        self.using: dict | None = None  # {project, version, features, labels, head}
        self.head_ready = False
        self.debouncer = Debouncer(DebounceSettings(p.min_keypoints, 3, 1.0, p.min_p, 0.1))

    def on_stop(self) -> None:
        self._training_done()  # (its trainer ends with this cortex: trainer.die_with_parent)

    # -- stimuli --------------------------------------------------------------------------

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind == "command":
            self.on_command(stimulus.text, stimulus.args)
            return
        if stimulus.kind == "image":
            # Its age counts from its arrival (the Session may have held it a long while for
            # this cortex, started by a later teach command): a stale picture is no sample.
            age = max(0.0, time.time() - stimulus.received)
            self.latest = (stimulus.image, time.monotonic() - age)
            if self.using and self.head_ready:
                super().on_stimulus(stimulus)

    def on_command(self, command: str, args: dict) -> None:
        if command not in self.commands:
            return
        try:
            project = args.get("project")
            if command == "teach.projects":
                projects = {name: self.store.counts(name) for name in self.store.projects()}
                listed = "; ".join(f"{n}: {', '.join(f'{k} ({v})' for k, v in c.items())}" for n, c in projects.items())
                self.emit("teach", f"Projects: {listed or 'none yet'}.", {"projects": projects})
            elif command == "teach.sample":
                self._sample(project, args.get("label"))
            elif command == "teach.forget":
                counts = self.store.forget(project, args.get("label"), args.get("sample"))
                self.emit("teach", f"Forgot that sample of {args['label']}.", {"project": project, "counts": counts})
            elif command == "teach.train":
                self._train(project, args.get("features", "pose"))
            elif command == "teach.use":
                self._use(project)
        except TeachError as exc:
            self.error(str(exc), {"command": command})

    def _sample(self, project: Any, label: Any) -> None:
        self.store.project(project)  # (checks the name before anything else)
        if self.latest is None or time.monotonic() - self.latest[1] > self.params.sample_max_age_s:
            raise TeachError("I have not seen a frame in the last few seconds; start the camera, then record.")
        try:
            image = open_rgb(self.latest[0], self.params.max_pixels)
        except ImageRejected as exc:
            raise TeachError(str(exc)) from None
        image.thumbnail((self.params.sample_max_side, self.params.sample_max_side), Image.Resampling.BILINEAR)
        sample, counts = self.store.add(project, label, jpeg_of(image))
        text = f"{label}: {counts[label]} sample{'s' if counts[label] != 1 else ''}."
        self.emit("teach", text, {"project": project, "label": label, "sample": sample, "counts": counts})

    def _train(self, project: Any, features: Any) -> None:
        if features not in ("pose", "image"):
            raise TeachError(f'features must be "pose" or "image", not {features!r}.')
        counts = self.store.check_trainable(project)
        if self.trainer is not None:
            raise TeachError(f"Project {project!r} is training already; wait for it to finish.")
        # The lock says "training" to every session while the trainer lives: forked with it,
        # the trainer holds it alone once this process closes its copy, and the kernel lets
        # go when the trainer ends, however it ends (killed with this cortex, say).
        lock = self.store.begin_training(project)
        try:
            trainer = self.createActor(Trainer)  # (forked here and now: thespian starts a local child at once)
        finally:
            self.store.end_training(lock)
        self.trainer = (trainer, project)
        path = self.params.pose_model_path if features == "pose" else self.params.image_model_path
        self.send(
            trainer,
            Train(
                str(self.store.project(project)),
                features,
                path,
                max_epochs=self.params.max_epochs,
                mirror_poses=self.params.mirror_poses,
                inherited=tuple(fd for fd in self.own_files() if fd != lock),
                lock=lock,
            ),
        )
        total = sum(counts.values())
        self.emit("training", f"Training {project} on {total} samples ({features})…", {"project": project, "epoch": 0})

    def receiveMsg_Progress(self, message: Progress, sender) -> None:
        project = self.trainer[1] if self.trainer else ""
        self.emit(
            "training",
            f"Training {project}: epoch {message.epoch}, validation accuracy {message.val_accuracy:.0%}.",
            {
                "project": project,
                "epoch": message.epoch,
                "epochs": message.epochs,
                "loss": round(message.loss, 4),
                "val_loss": round(message.val_loss, 4),
                "val_accuracy": round(message.val_accuracy, 3),
            },
        )

    def receiveMsg_Trained(self, message: Trained, sender) -> None:
        project = self._training_done()
        per_class = ", ".join(
            f"{label} {accuracy:.0%}" if accuracy is not None else f"{label} (none held out)"
            for label, accuracy in zip(message.labels, message.accuracy_per_class)
        )
        skipped = f"; {message.skipped} samples without a usable person were left out" if message.skipped else ""
        self.emit(
            "trained",
            f"Trained {project} (version {message.version}) in {message.seconds:.0f} s: {per_class}{skipped}.",
            {
                "project": project,
                "version": message.version,
                "labels": list(message.labels),
                "accuracy_per_class": list(message.accuracy_per_class),
                "confusion": [list(row) for row in message.confusion],
                "val_accuracy": message.val_accuracy,
                "samples": message.samples,
                "skipped": message.skipped,
            },
        )

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        if self.trainer is not None and message.childAddress == self.trainer[0]:
            project = self._training_done()  # (it ended without a word: killed, or out of memory)
            self.error(f"The training of {project} stopped unexpectedly; train again.")

    def receiveMsg_TrainingFailed(self, message: TrainingFailed, sender) -> None:
        project = self._training_done()
        self.error(f"Training {project} failed: {message.error}. Check the samples, then train again.")

    def _training_done(self) -> str:
        project = self.trainer[1] if self.trainer else ""
        self.trainer = None  # (the lock went with the trainer)
        return project

    # -- predictions ----------------------------------------------------------------------

    def _use(self, project: Any) -> None:
        version = self.store.latest(project)
        if version is None:
            raise TeachError(f"Project {project!r} has no trained version; press Train (teach.train) first.")
        meta = self.store.meta(version)
        name = f"teach:{project}:v{version.name}"
        self.using = {"project": project, "version": int(version.name), "name": name, **meta}
        # The holder runs TFLite without TensorFlow; a version trained before heads were
        # converted has only its Keras file (the holder then imports TensorFlow for it).
        converted = version / "model.tflite"
        self.using["head"] = (
            (converted.read_bytes(), "tflite")
            if converted.exists()
            else ((version / "model.keras").read_bytes(), "keras")
        )
        self.head_ready = False
        self.debouncer = Debouncer(self.debouncer.settings)
        self._load_head()

    def _feature_model(self) -> str:
        return self.params.pose_model if self.using["features"] == "pose" else self.params.image_model

    def _load_head(self) -> None:
        at = self._at.get(self._feature_model())
        if at is not None:
            self.send(at.holder, LoadHead(self.using["name"], *self.using["head"]))

    def receiveMsg_ModelAt(self, message: ModelAt, sender) -> None:
        super().receiveMsg_ModelAt(message, sender)
        if self.using and message.model == self._feature_model():
            self.head_ready = False  # a new holder (moved or restarted): load the head there
            self._load_head()

    def receiveMsg_HeadLoaded(self, message: HeadLoaded, sender) -> None:
        if self.using and message.name == self.using["name"]:
            self.head_ready = True
            labels = ", ".join(self.using["labels"])
            self.emit(
                "teach",
                f"Using {self.using['project']} (version {self.using['version']}): {labels}.",
                {"project": self.using["project"], "version": self.using["version"], "labels": self.using["labels"]},
            )

    def receiveMsg_HeadFailed(self, message: HeadFailed, sender) -> None:
        self.error(f"The trained head could not be loaded: {message.error}. Train the project again.")

    def on_frame(self, stimulus: Stimulus) -> None:
        model = self._feature_model()
        padded = self.using["features"] == "pose"
        try:
            pixels, _, _ = decode_for_model(stimulus.image, self.input_size(model), self.params.max_pixels, padded)
        except ImageRejected as exc:
            self.error(str(exc))
            self.frame_done()
            return
        self.frame_received = stimulus.received
        self.infer(model, pixels, 0.0, tag="features")

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        using = self.using
        if tag == "features":
            if using["features"] == "pose":
                if not result:
                    self.frame_done()  # nobody in view: nothing to say
                    return
                self.seen = visible(result[0], 0.3)
                features = pose_vector(result[0])
            else:
                self.seen = 17
                features = np.asarray(result, np.float32)
            self.infer(using["name"], features, 0.0, tag="head", via=self._feature_model())
            return
        probabilities = np.asarray(result)
        best = int(np.argmax(probabilities))
        label, score = using["labels"][best], float(probabilities[best])
        self.emit(
            "class",
            f"{label} ({score:.0%})",
            {"label": label, "score": round(score, 3), "project": using["project"], "version": using["version"]},
            self.meter(self.frame_received, using["name"], message),
        )
        if using["features"] == "pose":
            for started in self.debouncer.see(time.monotonic(), {label: score}, self.seen):
                self.emit("gesture", started, {"gesture": started, "person": 0, "project": using["project"]})
        self.frame_done()
