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


async def watch_actor_system(host: str, port: int, core: dict[str, int], sid: int, on_death,
                             every_s: float = 1.0) -> None:
    """Watch the admin and the brain's core actors (name → pid); without any of them the
    brain cannot work, so their death ends it (a service manager may restart it)."""
    core = {name: pid for name, pid in core.items() if pid}
    if "admin" not in core:
        log.warning("the admin's pid is unknown: the brain cannot notice if the actor system dies")
    misses: dict[str, int] = dict.fromkeys(core, 0)
    while True:
        await asyncio.sleep(every_s)
        for name, pid in core.items():
            misses[name] = 0 if process_alive(pid) else misses[name] + 1
        dead = [name for name, count in misses.items() if count >= 2]
        if dead:
            killed = kill_session(sid) if sid else 0
            log.error("The actor system died: its %s (pid %d; admin port %s:%d) is gone. Ended its %d remaining "
                      "process(es); the brain stops now (exit code 4). Check the log above for the cause, then "
                      "start the brain again.", dead[0], core[dead[0]], host, port, killed)
            on_death()
            return
