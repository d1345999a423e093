"""The Lifeline: the actor system ends itself when the brain that started it is gone.

thespian daemonises its admin (it calls setsid), so a `brain serve` or `brain join`
killed with SIGKILL (or by the OOM killer) left its whole actor system running: 48
processes a minute later, holding the admin port, and the next start exited 3 on it.
The brain watches its actor system (brain/watchdog.py); this is the other way round.
One tiny actor polls the brain's process; when it is gone, it asks the admin to shut
the system down (each actor ends as on a clean stop) and leaves a reaper behind that
SIGKILLs whatever is still there after a grace period.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

import psutil
from thespian.actors import ActorTypeDispatcher, WakeupMessage

from actors.messages import WatchBrain

__all__ = ["Lifeline", "alive", "others_in_session", "POLL_EVERY_S", "GRACE_S"]

log = logging.getLogger(__name__)

#: How often the lifeline looks for the brain: a psutil call, ~50 µs of CPU.
POLL_EVERY_S = 0.5
#: How long a clean shutdown may take before the rest is killed (measured: ~1 s for an
#: echo brain with eyes; a holder inside a model call answers only after the call).
GRACE_S = 10.0


def alive(pid: int, started: float) -> bool:
    """Is the process `pid`, created at `started`, still running (not a zombie)? A
    killed brain whose parent has not reaped it yet is a zombie: gone all the same."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() not in (
            psutil.STATUS_ZOMBIE,
            psutil.STATUS_DEAD,
        )
    except psutil.Error:
        return False


def others_in_session(sid: int) -> list[psutil.Process]:
    """Every process of session `sid` but this one (the actor system's: its admin called
    setsid and every actor is forked from it)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and os.getsid(process.pid) == sid:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


def _leave_a_reaper(grace_s: float) -> None:
    """Fork a process that, should any other process of this session remain after
    grace_s (an actor stuck in a long call does not hear the shutdown), SIGKILLs them;
    it leaves as soon as it is alone."""
    if os.fork():
        return
    try:
        # Nothing of the actor's: not its sockets (every actor inherits the admin's
        # listening one, and the next brain wants that port), not its logging.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        sid = os.getsid(0)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not [p for p in others_in_session(sid) if p.status() != psutil.STATUS_ZOMBIE]:
                return
            time.sleep(0.2)
        for process in others_in_session(sid):
            try:
                process.kill()
            except psutil.Error:
                pass
    except Exception:  # (nothing to report to, and never back into the actor's code)
        pass
    finally:
        os._exit(0)


class Lifeline(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.brain: WatchBrain | None = None

    def receiveMsg_WatchBrain(self, message: WatchBrain, sender) -> None:
        self.brain = message
        self.wakeupAfter(timedelta(seconds=POLL_EVERY_S))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        if alive(self.brain.pid, self.brain.started):
            self.wakeupAfter(timedelta(seconds=POLL_EVERY_S))
            return
        log.error(
            "the brain process (pid %d) is gone without stopping its actor system: the actor system "
            "shuts down now, so that the brain can start again on its admin port",
            self.brain.pid,
        )
        _leave_a_reaper(GRACE_S)
        self.actorSystemShutdown()
