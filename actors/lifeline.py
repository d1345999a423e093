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
from pathlib import Path

import psutil
from thespian.actors import ActorTypeDispatcher, WakeupMessage

from actors.messages import WatchBrain

__all__ = [
    "Lifeline",
    "alive",
    "is_the_brain",
    "start_of",
    "still_running",
    "others_in_session",
    "POLL_EVERY_S",
    "GRACE_S",
    "KILL_FOR_S",
]

log = logging.getLogger(__name__)

#: How often the lifeline looks for the brain: one read of /proc/<pid>/stat.
POLL_EVERY_S = 0.5
#: How long a clean shutdown may take before the rest is killed (measured: ~1 s for an
#: echo brain with eyes; a holder inside a model call answers only after the call).
GRACE_S = 10.0
#: How long after the grace the reaper goes on killing what it finds (a process forked
#: by one it killed, just before): then it leaves, whatever is left.
KILL_FOR_S = 5.0

_GONE_STATES = ("Z", "X", "x")  # zombie, dead: a killed brain not yet reaped is gone all the same


def is_the_brain(stat: str | None, started: int) -> bool:
    """Does `stat`, the text of /proc/<pid>/stat (None: no such process), show the brain
    that started `started` clock ticks after boot, still running? Other ticks: the pid
    was given to a later process, and the brain is gone.

    The start in ticks since boot (field 22) never moves. psutil's create_time() added
    the boot time, which it re-reads at each call and which moves with the wall clock: a
    clock step (NTP, a VM migration, `date`) made a live brain look gone."""
    if stat is None:
        return False
    state, ticks = _state_and_start(stat)
    return ticks == started and state not in _GONE_STATES


def _state_and_start(stat: str) -> tuple[str, int]:
    """Fields 3 (state) and 22 (start, in clock ticks since boot) of /proc/<pid>/stat."""
    fields = stat[stat.rindex(")") + 2 :].split()  # (field 2, the command, may hold spaces and ')')
    return fields[0], int(fields[19])


def _stat(pid: int) -> str | None:
    try:
        return Path(psutil.PROCFS_PATH, str(pid), "stat").read_text()
    except OSError:  # (no such process, or it ended while being read)
        return None


def start_of(pid: int) -> int:
    """When `pid` started, in clock ticks since boot: what the brain tells its lifeline."""
    stat = _stat(pid)
    if stat is None:
        raise ProcessLookupError(f"no process {pid}")
    return _state_and_start(stat)[1]


def alive(pid: int, started: int) -> bool:
    """Is the process `pid`, started at `started` (start_of), still running?"""
    return is_the_brain(_stat(pid), started)


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


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` still running. One that ended since it was listed counts as
    gone, like a zombie: while dozens of actors shut down, some always do, and the
    reaper once took that error for the end of its work and killed nothing."""
    running = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            continue
    return running


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
        kill_from = time.monotonic() + grace_s
        while (left := still_running(others_in_session(sid))) and time.monotonic() < kill_from + KILL_FOR_S:
            if time.monotonic() >= kill_from:
                for process in left:
                    try:
                        process.kill()  # (psutil checks it is still the process it listed)
                    except psutil.Error:
                        pass
            time.sleep(0.2)
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
