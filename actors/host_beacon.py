"""The HostBeacon: one tiny actor on every joined host, so the leader knows within
seconds that the host is gone (thespian notices a dead convention member only after
about 22 minutes).

It never does slow work, so a late answer means the host (or the link) is in trouble,
not that it is busy. Its answers carry the CPU time of the holders on its host: a late
holder that still burns CPU is busy, not hung.
"""

from __future__ import annotations

import logging
import os
import signal

from thespian.actors import ActorTypeDispatcher

from actors.messages import Heartbeat, HostAlive, KillHolder
from actors.placement import runs_on
from actors.processes import cpu_ticks, title

__all__ = ["HostBeacon"]

log = logging.getLogger(__name__)


class HostBeacon(ActorTypeDispatcher):
    actorSystemCapabilityCheck = staticmethod(runs_on)

    def receiveMsg_Heartbeat(self, message: Heartbeat, sender) -> None:
        ticks = {pid: t for pid in message.pids if (t := cpu_ticks(pid)) is not None}
        self.send(sender, HostAlive(message.host, ticks))

    def receiveMsg_KillHolder(self, message: KillHolder, sender) -> None:
        # Only ever a model holder: the leader's word is not a licence to kill anything.
        if not title(message.pid).startswith("ModelHolder "):
            log.warning("not killing pid %d: it is not a model holder", message.pid)
            return
        log.error("ending hung model holder pid %d", message.pid)
        try:
            os.kill(message.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
