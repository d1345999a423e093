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

import psutil

from actors.lifeline import others_in_session

__all__ = ["process_alive", "watch_actor_system", "kill_session", "logger_of"]

log = logging.getLogger(__name__)


def process_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


def kill_session(sid: int) -> int:
    """SIGKILL every process whose session id is `sid` (not this one); return how many."""
    killed = 0
    for process in others_in_session(sid):
        try:
            process.kill()
            killed += 1
        except psutil.Error:
            continue
    return killed


def logger_of(admin_pid: int) -> int:
    """The pid of thespian's logger process (a child of the admin titled "logger …"), or 0."""
    try:
        children = psutil.Process(admin_pid).children()
    except psutil.Error:
        return 0
    for child in children:
        try:
            if child.cmdline()[:1] and child.cmdline()[0].startswith("logger "):
                return child.pid
        except psutil.Error:
            continue
    return 0


async def watch_actor_system(
    host: str, port: int, core: dict[str, int], sid: int, on_death, every_s: float = 1.0
) -> None:
    """Watch the admin and the brain's core actors (name → pid); without any of them the
    brain cannot work, so their death ends it (a service manager may restart it)."""
    core = {name: pid for name, pid in core.items() if pid}
    if "admin" not in core:
        log.warning("the admin's pid is unknown: the brain cannot notice if the actor system dies")
    misses: dict[str, int] = dict.fromkeys(core, 0)
    logger = logger_of(core["admin"]) if "admin" in core else 0
    while True:
        await asyncio.sleep(every_s)
        if logger and not process_alive(logger):
            # The admin starts another at once; say so, or the actors' log lines would
            # just stop for a moment with no reason given.
            log.warning(
                "thespian's logger process (pid %d) died; the admin started a new one (pid %s): "
                "actor log lines in between may be lost",
                logger,
                logger_of(core["admin"]) or "not yet",
            )
            logger = logger_of(core["admin"])
        for name, pid in core.items():
            misses[name] = 0 if process_alive(pid) else misses[name] + 1
        dead = [name for name, count in misses.items() if count >= 2]
        if dead:
            killed = kill_session(sid) if sid else 0
            log.error(
                "The actor system died: its %s (pid %d; admin port %s:%d) is gone. Ended its %d remaining "
                "process(es); the brain stops now (exit code 4). Check the log above for the cause, then "
                "start the brain again.",
                dead[0],
                core[dead[0]],
                host,
                port,
                killed,
            )
            on_death()
            return
