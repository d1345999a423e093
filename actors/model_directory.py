"""The ModelDirectory actor: creates the ModelHolder, tells cortexes where it is, and
re-creates it when it dies or stops answering.

A message to a dead holder is silently lost (DESIGN.md), so cortexes time their
requests out, report the holder as suspect here, and ask again for its address.
"""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta

from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ChildActorExited, WakeupMessage

from actors.messages import (Ping, Pong, HolderSuspect, LoadModels, ModelAt, ModelLoading, ModelsFailed,
                             ModelsLoaded, ModelUnavailable, StartDirectory, WhereIsModel)
from actors.model_holder import ModelHolder

__all__ = ["ModelDirectory"]

log = logging.getLogger(__name__)


class ModelDirectory(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.start: StartDirectory | None = None
        self.holder = None  # address of the current holder, loaded or loading
        self.loaded: ModelsLoaded | None = None
        self.failed = ""
        self.askers: list = []  # (sender, model) waiting for a loaded holder
        self.restarts = 0
        self.stopping = False

    def receiveMsg_StartDirectory(self, message: StartDirectory, sender) -> None:
        self.start = message
        self._create_holder()

    def _create_holder(self) -> None:
        self.loaded = None
        self.failed = ""
        self.holder = self.createActor(ModelHolder)
        self.send(self.holder, LoadModels(self.start.models, self.start.settings))

    def receiveMsg_ModelsLoaded(self, message: ModelsLoaded, sender) -> None:
        if sender != self.holder:
            return
        self.loaded = message
        self.restarts = 0  # back off only while holders die before they finish loading
        log.info("models ready in holder pid %d (%.1f s, peak RSS %.0f MB)",
                    message.pid, message.seconds, message.peak_rss_mb)
        askers, self.askers = self.askers, []
        for asker, model in askers:
            self._answer(asker, model)

    def receiveMsg_ModelsFailed(self, message: ModelsFailed, sender) -> None:
        if sender != self.holder:
            return
        self.failed = message.error
        log.error("the model holder could not load the models: %s", message.error)
        askers, self.askers = self.askers, []
        for asker, model in askers:
            self._answer(asker, model)

    def receiveMsg_WhereIsModel(self, message: WhereIsModel, sender) -> None:
        if self.loaded is None and not self.failed:
            self.askers.append((sender, message.model))
            self.send(sender, ModelLoading(message.model))
            return
        self._answer(sender, message.model)

    def _answer(self, asker, model: str) -> None:
        if self.failed:
            self.send(asker, ModelUnavailable(model, f"the models could not be loaded: {self.failed}"))
        elif model not in self.loaded.inputs:
            known = ", ".join(self.loaded.inputs) or "none"
            self.send(asker, ModelUnavailable(model, f"no [[model]] named {model!r} (known: {known})"))
        else:
            self.send(asker, ModelAt(model, self.holder, self.loaded.inputs[model], self.loaded.pid))

    def receiveMsg_HolderSuspect(self, message: HolderSuspect, sender) -> None:
        if message.holder != self.holder or self.loaded is None:
            return  # already replaced, or still loading
        # A hung holder would never read an exit request: end its process.
        log.error("model holder pid %d stopped answering; restarting it", self.loaded.pid)
        try:
            os.kill(self.loaded.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.loaded = None  # ChildActorExited follows and re-creates it

    def receiveMsg_Ping(self, message: Ping, sender) -> None:
        self.send(sender, Pong(os.getpid()))

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        if message.childAddress != self.holder or self.stopping:
            return
        self.restarts += 1
        self.loaded = None
        log.error("model holder exited (restart %d); re-creating it", self.restarts)
        # Back off when it keeps dying (a model that crashes TensorFlow at load, say).
        delay = 0.0 if self.restarts <= 2 else min(self.start.settings.restart_delay_s * (self.restarts - 2), 60.0)
        if delay:
            self.holder = None
            self.wakeupAfter(timedelta(seconds=delay), "restart")
        else:
            self._create_holder()

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        if message.payload == "restart" and self.holder is None and not self.stopping:
            self._create_holder()

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        self.stopping = True
