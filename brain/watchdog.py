"""Notice that the actor system itself died, and leave no orphan behind.

thespian gives no signal when its admin process dies: messages just stop. Its port
is no sign of life either (forked actors inherit the listening socket), so the brain
watches the admin's process (learned from the reflector, its child); when it is gone
or a zombie, it ends every process of the actor system (they share the session id
the admin made with setsid) and exits non-zero with a clear line in the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

__all__ = ["process_alive", "watch_actor_system", "kill_session"]

log = logging.getLogger(__name__)


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def kill_session(sid: int) -> int:
    """SIGKILL every process whose session id is `sid` (not this one); return how many."""
    killed = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            if int(fields[3]) == sid and pid != os.getpid():  # field 6 of stat: the session id
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (OSError, ValueError, IndexError):
            continue
    return killed


async def watch_actor_system(host: str, port: int, admin_pid: int, sid: int, on_death,
                             every_s: float = 1.0) -> None:
    if not admin_pid:
        log.warning("the admin's pid is unknown: the brain cannot notice if the actor system dies")
        return
    misses = 0
    while True:
        await asyncio.sleep(every_s)
        misses = 0 if process_alive(admin_pid) else misses + 1
        if misses >= 2:
            killed = kill_session(sid) if sid else 0
            log.error("The actor system died: its admin (pid %d, port %s:%d) is gone. Ended its %d remaining "
                      "process(es); the brain stops now (exit code 4). Check the log above for the cause, then "
                      "start the brain again.", admin_pid, host, port, killed)
            on_death()
            return
