"""The HostBeacon: one tiny actor on every joined host, so the leader knows within
seconds that the host is gone (thespian notices a dead convention member only after
about 22 minutes) — and the host knows when the leader is.

It never does slow work, so a late answer means the host (or the link) is in trouble,
not that it is busy. Its answers carry the CPU time of the holders on its host: a late
holder that still burns CPU is busy, not hung. When the leader stops pinging it for
`orphan_after_s`, it ends the holders the leader placed here (each holds a TensorFlow
process's memory) and itself, and tells `brain join` (a file it names), which joins
afresh so that a restarted leader finds this host at once.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

from thespian.actors import ActorExitRequest, ActorTypeDispatcher, WakeupMessage

from actors.models.messages import Heartbeat, HostAlive, KillHolder
from actors.models.placement import runs_on
from actors.processes import cpu_seconds, title

__all__ = ["LEFT_BEHIND_ENV", "HostBeacon"]

#: `brain join` names a file here; the beacon creates it when the leader has gone silent.
LEFT_BEHIND_ENV = "CORTICAL_LEFT_BEHIND"

log = logging.getLogger(__name__)


def _kill_holder(pid: int) -> None:
    # Only ever a model holder: the leader's word is not a licence to kill anything.
    if not title(pid).startswith("ModelHolder "):
        log.warning("not killing pid %d: it is not a model holder", pid)
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class HostBeacon(ActorTypeDispatcher):
    actorSystemCapabilityCheck = staticmethod(runs_on)

    def __init__(self) -> None:
        super().__init__()
        self.last: Heartbeat | None = None
        self.heard = 0.0

    def receiveMsg_Heartbeat(self, message: Heartbeat, sender) -> None:
        if self.last is None:
            self.wakeupAfter(timedelta(seconds=message.orphan_after_s / 4))
        self.last, self.heard = message, time.monotonic()
        cpu = {pid: t for pid in message.pids if (t := cpu_seconds(pid)) is not None}
        self.send(sender, HostAlive(message.host, cpu))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        silent = time.monotonic() - self.heard
        if silent < self.last.orphan_after_s:
            self.wakeupAfter(timedelta(seconds=self.last.orphan_after_s / 4))
            return
        log.warning(
            "the leader has not pinged this host for %.0f s: ending its model holders here (%s)",
            silent,
            ", ".join(map(str, self.last.pids)) or "none",
        )
        for pid in self.last.pids:
            _kill_holder(pid)
        left_behind = os.environ.get(LEFT_BEHIND_ENV)
        if left_behind:  # `brain join` is watching for this file
            Path(left_behind).touch()
        self.send(self.myAddress, ActorExitRequest())

    def receiveMsg_KillHolder(self, message: KillHolder, sender) -> None:
        log.error("ending hung model holder pid %d", message.pid)
        _kill_holder(message.pid)
