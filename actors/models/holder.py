"""The ModelHolder actor: holds every local model in one process and batches requests.

One holder for all models lets a 2 GB machine pay for the models (and LiteRT, or
TensorFlow for the formats that need it) once. Requests for one model that arrive within
`max_wait_ms` of the first are run as one batch, up to `max_batch`. Cortexes on its
machine send their requests over its link (actors/dataplane/holder_link.py), others as
messages; each answer goes back the way its request came.
"""

from __future__ import annotations

import functools
import logging
import os
import resource
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
from thespian.actors import ActorExitRequest, WakeupMessage

from actors.dataplane import holder_link
from actors.dataplane.datagrams import ACCEPT_AGAIN_S, read_datagrams, send_datagram
from actors.dataplane.shared_pixels import SharedPixels
from actors.dataplane.shared_pixels import read as read_shared
from actors.dataplane.watching import Watching
from actors.models.batching import Batcher
from actors.models.messages import (
    HeadFailed,
    HeadLoaded,
    Infer,
    InferFailed,
    Inferred,
    LoadHead,
    LoadModels,
    ModelsFailed,
    ModelsLoaded,
)
from actors.models.placement import runs_on
from actors.models.recipes import HEAD, RECIPES
from actors.preload import tune_malloc

__all__ = ["ModelHolder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchDue:
    """Timer: the first request of a batch for this model has waited max_wait_ms."""

    model: str


@dataclass(frozen=True)
class AcceptAgain:
    """Timer: listen on the link again (taking a connection failed: out of files)."""


class ModelHolder(Watching):
    # The ModelDirectory chooses the host; this lets thespian create it there.
    actorSystemCapabilityCheck = staticmethod(runs_on)

    def __init__(self) -> None:
        super().__init__()
        self.models: dict = {}
        self.recipes: dict = {}
        self.devices: dict[str, str] = {}
        self.unloaded: dict = {}  # name → the spec of a model loaded at its first use
        self.unusable: dict[str, str] = {}  # name → why it could not load at its first use
        self.batcher: Batcher | None = None
        self.listener: socket.socket | None = None  # the link cortexes on this machine connect to
        self.connections: dict[int, socket.socket] = {}  # fd → a cortex's connection
        self.full: set[str] = set()  # models with a full batch, run once every ready connection is read

    def receiveMsg_LoadModels(self, message: LoadModels, sender) -> None:
        started = time.perf_counter()
        # The brain's processes hand big blocks back to the system at once (actors/preload.py);
        # the holder reuses the same few MB-sized arrays every frame, and mapping them anew
        # cost it 1-4 ms a frame (measured on nanodet): keep them.
        tune_malloc(mmap_threshold=64 * 2**20, trim_threshold=128 * 2**20)
        # TensorFlow's C++ start-up chatter would drown the brain's log.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            from actors.models import runtime  # TensorFlow is imported here, in this process only

            for spec in message.models:
                self.recipes[spec.name] = RECIPES[spec.kind]
                self.devices[spec.name] = runtime.device_of(spec.format)
                if spec.load == "first_use":
                    self.unloaded[spec.name] = spec
                else:
                    self._load(spec)
        except Exception as exc:
            log.exception("model holder could not load its models")
            self.send(sender, ModelsFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.batcher = Batcher(message.settings.max_batch, message.settings.max_wait_ms / 1000)
        link = ""
        try:
            self.listener, link = holder_link.listen()
            self.watch_file(self.listener.fileno(), self._accept)
        except OSError:
            log.warning("the model holder could not open its link: cortexes here will use messages")
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log.info(
            "model holder pid %d loaded %s in %.1f s, peak RSS %.0f MB",
            os.getpid(),
            ", ".join(
                f"{name} on {device}" + (" (at its first use)" if name in self.unloaded else "")
                for name, device in self.devices.items()
            ),
            seconds,
            peak_mb,
        )
        inputs = {name: recipe.input_size for name, recipe in self.recipes.items()}
        self.send(sender, ModelsLoaded(os.getpid(), seconds, peak_mb, inputs, dict(self.devices), link))

    def _load(self, spec) -> None:
        from actors.models import runtime

        recipe = self.recipes[spec.name]
        self.models[spec.name] = runtime.load(spec.path, spec.format, recipe.batchable, recipe.tap)
        # The first call builds kernels; do it now rather than on an eye's first frame.
        height, width = recipe.input_size
        self.models[spec.name](recipe.preprocess(np.zeros((1, height, width, 3), np.uint8)))

    def _load_at_first_use(self, name: str) -> None:
        """Load a `load = "first_use"` model for the request that wants it (centernet-embedding:
        0.1 s, measured); the other models wait that long once."""
        spec = self.unloaded.pop(name)
        started = time.perf_counter()
        try:
            self._load(spec)
        except Exception as exc:
            log.exception("model holder could not load %s at its first use", name)
            self.models.pop(name, None)
            self.unusable[name] = (
                f"the model {name!r} could not load ({type(exc).__name__}: {exc}); "
                "check its [[model]] path and format, then restart the brain"
            )
            return
        log.info(
            "model holder pid %d loaded %s at its first use in %.2f s", os.getpid(), name, time.perf_counter() - started
        )

    def _accept(self) -> None:
        """Cortexes connecting to the link."""
        try:
            for connection in holder_link.accept(self.listener):
                self.connections[connection.fileno()] = connection
                self.watch_file(connection.fileno(), functools.partial(self._read_link, connection))
        except OSError as exc:  # (out of files: stop listening a while, or spin)
            log.warning("the model holder could not take a connection (%s); trying again in %g s", exc, ACCEPT_AGAIN_S)
            self.unwatch_file(self.listener.fileno())
            self.wakeupAfter(timedelta(seconds=ACCEPT_AGAIN_S), AcceptAgain())

    def _read_link(self, connection: socket.socket) -> None:
        """A cortex's requests on its connection to the link."""
        requests, ended = read_datagrams(connection)
        for request in requests:  # (before a close: the round robin knows it by its fd)
            if isinstance(request, Infer):
                self._infer(request, connection, read_all_first=True)
        if ended:  # (its cortex ended; answers to what it sent go by message, if at all)
            fd = connection.fileno()
            self.unwatch_file(fd)
            del self.connections[fd]
            if self.batcher is not None:
                self.batcher.forget(fd)
            connection.close()

    def files_read(self) -> None:
        # A full batch waits until every ready connection is read, so that the round robin
        # chooses among all the eyes that are waiting, not the first few read.
        for model in sorted(self.full):
            self._run(model)
        self.full.clear()

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        for connection in self.connections.values():
            connection.close()
        if self.listener is not None:
            self.listener.close()

    def _reply(self, asker, infer: Infer, answer) -> None:
        """An answer, the way its request came (over the link, or as a message)."""
        if isinstance(asker, socket.socket):
            if send_datagram(asker, answer):
                return
            asker = infer.reply_to  # (full, too big, or closed: the message way)
            if asker is None:
                return
        self.send(asker, answer)

    def receiveMsg_LoadHead(self, message: LoadHead, sender) -> None:
        """A trained teach head, loaded while the holder serves (no restart)."""
        if message.name in self.models:
            self.send(sender, HeadLoaded(message.name))
            return
        try:
            from actors.models import runtime

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"head.{message.format}"
                path.write_bytes(message.model)
                self.models[message.name] = runtime.load(path, message.format)
            self.recipes[message.name] = HEAD
        except Exception as exc:
            log.exception("could not load the head %s", message.name)
            self.send(sender, HeadFailed(message.name, f"{type(exc).__name__}: {exc}"))
            return
        log.info("loaded the trained head %s (%s, %d bytes)", message.name, message.format, len(message.model))
        self.send(sender, HeadLoaded(message.name))

    def receiveMsg_Infer(self, message: Infer, sender) -> None:
        self._infer(message, sender)

    def _infer(self, message: Infer, asker, read_all_first: bool = False) -> None:
        """A request, from a cortex's address (by message) or its connection (the link)."""
        if message.model in self.unloaded:
            self._load_at_first_use(message.model)
        if message.model in self.unusable:
            self._reply(asker, message, InferFailed(message.request_id, self.unusable[message.model]))
            return
        if message.model not in self.models:
            self._reply(asker, message, InferFailed(message.request_id, f"no model named {message.model!r} is loaded"))
            return
        # The round robin's source: a cortex's connection, or its address (one eye's cortex).
        source = asker.fileno() if isinstance(asker, socket.socket) else str(asker)
        action = self.batcher.add(message.model, (asker, message), time.monotonic(), source)
        if action.run_now and read_all_first:
            self.full.add(message.model)
        elif action.run_now:
            self._run(message.model)
        elif action.wake_in_s is not None:
            self.wakeupAfter(timedelta(seconds=action.wake_in_s), BatchDue(message.model))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        due = message.payload
        if isinstance(due, AcceptAgain) and self.listener is not None:
            self.watch_file(self.listener.fileno(), self._accept)
        if isinstance(due, BatchDue) and self.batcher and self.batcher.due(due.model, time.monotonic()):
            self._run(due.model)

    def _run(self, model: str) -> None:
        while requests := self.batcher.take(model):
            self._run_batch(model, requests)

    def _run_batch(self, model: str, requests: list) -> None:
        # Under overload, do not spend the model on frames nobody waits for any more.
        now = time.time()
        waited_for = []
        for source, (sender, infer) in requests:
            if infer.deadline and infer.deadline < now:
                self._reply(
                    sender, infer, InferFailed(infer.request_id, "skipped: the answer would have come too late")
                )
                continue
            if isinstance(infer.image, SharedPixels):  # (from a cortex on this machine)
                try:
                    infer = replace(infer, image=read_shared(infer.image))
                except OSError as exc:
                    self._reply(sender, infer, InferFailed(infer.request_id, f"its pixels could not be read ({exc})"))
                    continue
            waited_for.append((sender, infer))
            self.batcher.answered(model, source)
        requests = waited_for
        if not requests:
            return
        recipe = self.recipes[model]
        started = time.perf_counter()
        try:
            batch = recipe.preprocess(np.stack([infer.image for _, infer in requests]))
            outputs = self.models[model](batch)
        except Exception as exc:
            log.exception("inference failed for a batch of %d on %s", len(requests), model)
            for sender, infer in requests:
                self._reply(sender, infer, InferFailed(infer.request_id, f"{type(exc).__name__}: {exc}"))
            return
        infer_ms = (time.perf_counter() - started) * 1000
        queued = self.batcher.waiting(model)
        for index, (sender, infer) in enumerate(requests):
            try:
                result = recipe.decode([o[index] for o in outputs], infer.threshold)
            except Exception as exc:
                self._reply(sender, infer, InferFailed(infer.request_id, f"{type(exc).__name__}: {exc}"))
                continue
            self._reply(sender, infer, Inferred(infer.request_id, result, len(requests), infer_ms, queued))
