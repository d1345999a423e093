"""The Trainer actor: one training of one teach project, in its own process, then it exits.

TensorFlow is imported here (as in the holder); the process runs at a lower priority with
one thread, so that the eyes' inference goes first. It computes the features itself from
the stored samples (its own copy of the feature model: a few MB), holds out 15 % of each
class, trains a small head (normalise → Dense 64 → dropout → softmax) one epoch per
message (progress goes out between them), stops early, and saves the best epoch's head
as a new version of the project.

A trainer ends with its cortex: it is forked by it, asks the kernel for SIGKILL when that
process ends (or ends at once if it did already), and holds the project's training lock
until it is done (store.begin_training), so a restarted cortex can train again at once and
a second training never runs beside an orphan.
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
import logging
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from thespian.actors import ActorExitRequest, ActorTypeDispatcher

from actors.cortexes.learned.features import (
    augment_image,
    confusion,
    mirrored,
    per_class_accuracy,
    pose_vector,
    split,
)
from actors.cortexes.learned.messages import Progress, Step, Train, Trained, TrainingFailed
from actors.cortexes.learned.store import TeachStore
from actors.cortexes.pose.body import visible
from actors.imaging import decode_for_model
from actors.models.recipes import RECIPES

__all__ = ["Trainer", "die_with_parent"]

log = logging.getLogger(__name__)
VALIDATION = 0.15
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """Have the kernel kill this process (SIGKILL) when the one that forked it ends; if that
    one ended already, end now. Killed with SIGKILL, a cortex has no last word for its
    children, and an orphan trainer trained on beside the next one (issue 22, item 6).
    (The signal follows the thread that forked: a thespian actor forks its children on its
    one thread, which lives as long as its process.)"""
    parent = multiprocessing.parent_process()  # (the process that forked this one, known before the fork)
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning(
            "prctl(PR_SET_PDEATHSIG) failed (errno %d): this trainer may outlive its cortex", ctypes.get_errno()
        )
    if os.getppid() != parent.pid:  # (it ended before the line above: no signal will come)
        os._exit(0)


class Trainer(ActorTypeDispatcher):
    def __init__(self) -> None:
        die_with_parent()  # (first: its cortex may be gone before the first message comes)
        super().__init__()

    def receiveMsg_Train(self, message: Train, sender) -> None:
        for fd in message.inherited:  # (its cortex's pipe and links: they must close when it ends)
            try:
                os.close(fd)
            except OSError:
                pass
        self.asker, self.job, self.started = sender, message, time.monotonic()
        try:
            self._prepare(message)
        except Exception as exc:
            log.exception("training of %s could not start", message.project_dir)
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        self.send(self.myAddress, Step())

    def _prepare(self, job: Train) -> None:
        os.nice(10)  # the eyes' inference first
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        from actors.models import runtime
        from actors.models.formats import format_of

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        keras.utils.set_random_seed(job.seed)
        directory = Path(job.project_dir)
        self.store = TeachStore(directory.parent)  # (once: a store's start tightens and sweeps its folder)
        samples = self.store.samples(directory.name)
        self.labels = sorted({label for label, _ in samples})
        kind = "movenet" if job.features == "pose" else "centernet-embedding"
        recipe = RECIPES[kind]
        # The very model file the holder runs, so features here match the ones it serves.
        model = runtime.load(job.model_path, format_of(job.model_path), batchable=False, tap=recipe.tap)

        def features(jpeg: bytes) -> np.ndarray | None:
            pixels, _, _ = decode_for_model(jpeg, recipe.input_size, 10**8, padded=recipe.padded)
            output = [o[0] for o in model(recipe.preprocess(pixels[None]))]
            if job.features == "image":
                return recipe.decode(output, 0.0)
            (person,) = recipe.decode(output, 0.0)
            return pose_vector(person) if visible(person, 0.3) >= job.min_keypoints else None

        base, kept_labels, paths = [], [], []
        for label, path in samples:
            vector = features(path.read_bytes())
            if vector is not None:
                base.append(vector)
                kept_labels.append(self.labels.index(label))
                paths.append(path)
        self.skipped = len(samples) - len(base)
        if len(set(kept_labels)) < 2:
            raise ValueError("fewer than two classes have usable samples (for pose: a person in view)")
        train, held = split(kept_labels, VALIDATION, job.seed)
        x, y = [base[i] for i in train], [kept_labels[i] for i in train]
        rng = np.random.default_rng(job.seed)
        for i in train:  # augmentation, of the training part only
            if job.features == "pose" and job.mirror_poses:
                x.append(mirrored(base[i]))
                y.append(kept_labels[i])
            elif job.features == "image":
                image = Image.open(paths[i]).convert("RGB")
                for _ in range(job.image_copies):
                    x.append(features(jpeg_of(augment_image(image, rng))))
                    y.append(kept_labels[i])
        self.x, self.y = np.stack(x), np.array(y)
        self.vx, self.vy = np.stack([base[i] for i in held]), np.array([kept_labels[i] for i in held])
        normalise = keras.layers.Normalization()
        normalise.adapt(self.x)
        self.head = keras.Sequential(
            [
                keras.Input((self.x.shape[1],)),
                normalise,
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(len(self.labels), activation="softmax"),
            ]
        )
        self.head.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        self.epoch, self.best, self.best_weights, self.waited = 0, float("inf"), None, 0
        self.samples = len(base)

    def receiveMsg_Step(self, message: Step, sender) -> None:
        job = self.job
        try:
            history = self.head.fit(self.x, self.y, epochs=1, batch_size=16, shuffle=True, verbose=0)
            val_loss, val_accuracy = self.head.evaluate(self.vx, self.vy, verbose=0)
        except Exception as exc:
            log.exception("training failed")
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        self.epoch += 1
        self.send(
            self.asker,
            Progress(self.epoch, job.max_epochs, float(history.history["loss"][0]), val_loss, val_accuracy),
        )
        if val_loss < self.best - 1e-4:
            self.best, self.best_weights, self.waited = val_loss, self.head.get_weights(), 0
        else:
            self.waited += 1
        if self.epoch < job.max_epochs and self.waited < job.patience:
            self.send(self.myAddress, Step())
            return
        try:
            self._finish()
        except Exception as exc:
            log.exception("the trained head could not be saved")
            self._fail(f"{type(exc).__name__}: {exc}")

    def _finish(self) -> None:
        job = self.job
        self.head.set_weights(self.best_weights)
        predicted = np.argmax(self.head.predict(self.vx, verbose=0), axis=1).tolist()
        matrix = confusion(self.vy.tolist(), predicted, len(self.labels))
        directory = Path(job.project_dir)
        store = self.store
        version = store.new_version(directory.name)
        self.head.save(version / "model.keras")
        # What the holder runs (LiteRT, without TensorFlow); the Keras file is the source.
        import tensorflow as tf

        (version / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(self.head).convert())
        accuracy = float(np.mean(np.array(predicted) == self.vy))
        report = {
            "labels": self.labels,
            "features": job.features,
            "accuracy_per_class": per_class_accuracy(matrix),
            "confusion": matrix,
            "val_accuracy": round(accuracy, 3),
            "samples": self.samples,
            "skipped": self.skipped,
            "epochs": self.epoch,
            "seconds": round(time.monotonic() - self.started, 1),
        }
        store.save_meta(version, report)
        self._unlock()  # (before the word: the eye may train again the moment it hears)
        log.info("trained %s version %s: %.0f%% on held-out samples", directory.name, version.name, 100 * accuracy)
        self.send(
            self.asker,
            Trained(
                int(version.name),
                tuple(self.labels),
                tuple(report["accuracy_per_class"]),
                tuple(tuple(row) for row in matrix),
                report["val_accuracy"],
                self.samples,
                self.skipped,
                report["seconds"],
            ),
        )
        self.send(self.myAddress, ActorExitRequest())

    def _fail(self, error: str) -> None:
        self._unlock()
        self.send(self.asker, TrainingFailed(error))
        self.send(self.myAddress, ActorExitRequest())

    def _unlock(self) -> None:
        if self.job.lock >= 0:
            TeachStore.end_training(self.job.lock)
            self.job = dataclasses.replace(self.job, lock=-1)


def jpeg_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
