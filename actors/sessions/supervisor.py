"""SessionSupervisor: the parent of every Session; restarts one that crashes.

A Session killed outright leaves its cortexes orphaned, so each Session leads its own
process group (its cortexes are forked from it) and the supervisor ends the whole
group before it starts a new Session for the same eye. The gateway learns the new
address from SessionStarted; after too many crashes it gets SessionEnded and closes
that eye's connection with the reason.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import timedelta

from thespian.actors import ActorTypeDispatcher, ChildActorExited, WakeupMessage

from actors.dataplane.eye_link import send_output
from actors.messages import (
    EyeOutput,
    Output,
    Ping,
    Pong,
    SessionClosing,
    SessionEnded,
    SessionStarted,
    SessionUp,
    StartSession,
)
from actors.preload import before_fork
from actors.sessions.session import Session
from actors.supervision import GiveUp, Restarts, SupervisionPolicy

__all__ = ["SessionSupervisor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartSession:
    """Timer: the backoff of a crashed session is over."""

    session_id: str


class _Child:
    def __init__(self, start: StartSession, address):
        self.start = start
        self.address = address
        self.pgid: int | None = None
        self.closing = False
        self.restarts = Restarts(start.open.policy or SupervisionPolicy())


class SessionSupervisor(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.children: dict[str, _Child] = {}  # session id → child

    def receiveMsg_StartSession(self, message: StartSession, sender) -> None:
        before_fork()
        address = self.createActor(Session)
        self.children[message.open.session_id] = _Child(message, address)
        self.send(address, message.open)
        self.send(message.open.eye, SessionStarted(message.open.session_id, address))

    def receiveMsg_SessionUp(self, message: SessionUp, sender) -> None:
        child = self.children.get(message.session_id)
        if child is not None:
            child.pgid = message.pgid

    def receiveMsg_SessionClosing(self, message: SessionClosing, sender) -> None:
        child = self.children.get(message.session_id)
        if child is not None:
            child.closing = True

    def receiveMsg_Ping(self, message: Ping, sender) -> None:
        self.send(sender, Pong(os.getpid()))

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        for session_id, child in list(self.children.items()):
            if child.address != message.childAddress:
                continue
            if child.closing:
                del self.children[session_id]
                return
            self._crashed(session_id, child)
            return

    def _crashed(self, session_id: str, child: _Child) -> None:
        # Its cortexes are orphans now: end the whole process group it led.
        if child.pgid:
            try:
                os.killpg(child.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        verdict = child.restarts.crashed(time.monotonic())
        eye = child.start.open.eye
        if isinstance(verdict, GiveUp):
            log.error(
                "session %s crashed %d times in %.0f s; giving up",
                session_id,
                verdict.count,
                child.restarts.policy.window_s,
            )
            del self.children[session_id]
            self.send(eye, SessionEnded(session_id, "Your session kept crashing; reconnect to start a new one."))
            return
        log.warning("session %s crashed; restarting it in %.1f s", session_id, verdict.after_s)
        send_output(
            child.start.open.outputs,
            EyeOutput(
                session_id,
                Output(
                    "session",
                    "error",
                    "Your session stopped unexpectedly; it is being restarted.",
                    {"restarting": "session"},
                ),
            ),
        )
        self.wakeupAfter(timedelta(seconds=verdict.after_s), RestartSession(session_id))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        if not isinstance(message.payload, RestartSession):
            return
        session_id = message.payload.session_id
        child = self.children.get(session_id)
        if child is None:
            return
        before_fork()
        child.address = self.createActor(Session)
        child.pgid = None
        self.send(child.address, child.start.open)
        self.send(child.start.open.eye, SessionStarted(session_id, child.address, restarted=True))
