"""The Session actor: one per connected eye; owns that eye's cortexes.

It creates one Cortex per `[[cortex]]` stanza, routes each stimulus to the cortexes
subscribed to its kind, and tells the eye when the brain is ready or a cortex fails.
Cortexes send their outputs straight to the eye (one hop fewer than via the Session).
"""

from __future__ import annotations

import logging

from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ChildActorExited, PoisonMessage

from actors.cortex import cortex_type
from actors.messages import (CloseSession, CortexReady, EyeOutput, OpenSession, Output,
                             StartCortex, Stimulus)

__all__ = ["Session"]

log = logging.getLogger(__name__)


class Session(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.open: OpenSession | None = None
        self.cortexes: dict[str, object] = {}  # name → address
        self.starting: set[str] = set()
        self.closing = False
        self.unrouted_kinds_told: set[str] = set()

    def receiveMsg_OpenSession(self, message: OpenSession, sender) -> None:
        self.open = message
        for spec in message.cortexes:
            address = self.createActor(cortex_type(spec.type))
            self.cortexes[spec.name] = address
            self.starting.add(spec.name)
            self.send(address, StartCortex(spec, message.session_id, message.eye, message.services))
        self._maybe_ready()

    def receiveMsg_CortexReady(self, message: CortexReady, sender) -> None:
        self.starting.discard(message.name)
        if message.error:
            self._tell_eye("error", f"The {message.name} cortex could not start: {message.error}. "
                                    "Check its [[cortex]] stanza in the config.",
                           {"cortex": message.name})
        self._maybe_ready()

    def _maybe_ready(self) -> None:
        if self.starting:
            return
        if self.closing:
            self._exit()
            return
        names = [spec.name for spec in self.open.cortexes]
        self._tell_eye("status", "The brain is ready.",
                       {"ready": True, "session": self.open.session_id, "cortexes": names,
                        **self.open.ready_data})

    def receiveMsg_Stimulus(self, message: Stimulus, sender) -> None:
        if self.open is None or self.closing:
            return
        routed = False
        for spec in self.open.cortexes:
            if message.kind in spec.subscribes and spec.name in self.cortexes:
                self.send(self.cortexes[spec.name], message)
                routed = True
        if routed:
            return
        # A snapshot stream with no image cortex would flood the eye: say it once.
        if message.kind == "image" and "image" in self.unrouted_kinds_told:
            return
        self.unrouted_kinds_told.add(message.kind)
        what = f"command {message.text!r}" if message.kind == "command" else f"{message.kind}"
        self._tell_eye("error", f"No cortex in this brain's config takes {what}; "
                                "add one that subscribes to it.", {"kind": message.kind})

    def receiveMsg_CloseSession(self, message: CloseSession, sender) -> None:
        self.closing = True
        # Exiting while children are still being created orphans them (DESIGN.md):
        # wait until every cortex has confirmed it started.
        if not self.starting:
            self._exit()

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        if self.closing or self.open is None:
            return
        for name, address in list(self.cortexes.items()):
            if address == message.childAddress:
                del self.cortexes[name]
                self._tell_eye("error", f"The {name} cortex stopped; it will not answer in this "
                                        "session. Reconnect to start it again.", {"cortex": name})
                if name in self.starting:
                    self.starting.discard(name)
                    self._maybe_ready()

    def receiveMsg_PoisonMessage(self, message: PoisonMessage, sender) -> None:
        log.warning("a message could not be delivered or handled: %r", message.poisonMessage)

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        # thespian stops the children after this returns.
        pass

    def _exit(self) -> None:
        self.send(self.myAddress, ActorExitRequest())

    def _tell_eye(self, kind: str, text: str, data: dict) -> None:
        output = Output(cortex="session", kind=kind, text=text, data=data)
        self.send(self.open.eye, EyeOutput(self.open.session_id, output))
