"""Start and stop the thespian actor system, patched as brain/thespian_patches.py lists
(protected as brain/actor_network.py says), and where thespian keeps its log."""

from __future__ import annotations

import logging
import os
import socket
import stat
import tempfile
from pathlib import Path

from brain.actor_network import NetworkGuard
from brain.thespian_patches import apply_patches

__all__ = [
    "AdminPortBusy",
    "start_actor_system",
    "private_directory",
    "directory_problem",
    "thespian_log_file",
]

log = logging.getLogger(__name__)

SYSTEM_BASE = "multiprocTCPBase"
#: minutes:seconds, thespian's format; CONVENTION_REREGISTRATION_PERIOD in the environment overrides it
CONVENTION_REREGISTRATION_PERIOD = "0:20"


class AdminPortBusy(RuntimeError):
    """Something already listens on the admin port (often an orphaned admin)."""


def _check_port_free(host: str, port: int) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            raise AdminPortBusy(
                f"something already listens on the actor admin port {host}:{port}; "
                "it may be the actor system of a brain that was killed without shutting down. "
                f"Find it with `ss -ltnp 'sport = :{port}'` and stop it, or choose another "
                "[actors] admin_port."
            )
    finally:
        probe.close()


def start_actor_system(guard: NetworkGuard, admin_port: int, capabilities: dict | None = None):
    """Start a fresh multiprocTCPBase admin on guard.host:admin_port and return the ActorSystem.

    `capabilities` are added to thespian's (e.g. the convention leader's address).
    Must run before any thread is started: the admin and actors are forked.
    """
    from thespian.actors import ActorSystem, InvalidActorAddress

    host = guard.host
    _check_port_free(host, admin_port)
    log_defs = _log_defs()
    log_file = thespian_log_file(admin_port)
    period = os.environ.get("CONVENTION_REREGISTRATION_PERIOD", CONVENTION_REREGISTRATION_PERIOD)
    apply_patches(guard, log_file, log_defs, period)
    log.info("thespian logs to %s", log_file)
    try:
        system = ActorSystem(SYSTEM_BASE, {"Admin Port": admin_port, **(capabilities or {})}, logDefs=log_defs)
    except InvalidActorAddress as exc:  # (taken since the check: thespian found no admin of its own there)
        raise AdminPortBusy(
            f"the actor admin port {host}:{admin_port} was taken by something else as the brain "
            "started; start it again, or choose another [actors] admin_port."
        ) from exc
    _reap_exited_children()
    _tie_to_this_process(system)
    log.info("actor system started on %s:%d", host, admin_port)
    return system


def _tie_to_this_process(system) -> None:
    """The actor system ends itself when this process is gone, however it went
    (actors/lifeline.py): a SIGKILLed brain left it all running on the admin port."""
    from actors.lifeline import Lifeline, start_of
    from actors.messages import WatchBrain

    system.tell(system.createActor(Lifeline), WatchBrain(os.getpid(), start_of(os.getpid())))


def directory_problem(status: os.stat_result, uid: int) -> str | None:
    """Why a directory (as os.lstat saw it) is not private to `uid`, in words; None if it is.

    Only a directory no one else may enter keeps others from planting a link where the
    brain will write: thespian appended its log to `$TMPDIR/thespian.log`, following
    whatever link another user had put there."""
    if stat.S_ISLNK(status.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(status.st_mode):
        return "is not a directory"
    if status.st_uid != uid:
        return f"belongs to another user (uid {status.st_uid})"
    if status.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(status.st_mode):o})"
    return None


def private_directory() -> Path:
    """$TMPDIR/cortical-<uid>, made 0700 and checked without following links: where the
    brain keeps files other users must not touch (thespian's log, `brain join`'s marker).
    Should that name be taken (by another user, say), a fresh directory is made instead."""
    uid = os.getuid()
    path = Path(tempfile.gettempdir()) / f"cortical-{uid}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    problem = directory_problem(os.lstat(path), uid)
    if problem is None:
        return path
    fresh = Path(tempfile.mkdtemp(prefix=f"cortical-{uid}-"))
    log.warning(
        "%s %s, so the brain keeps its private files in %s instead; remove %s (as its owner or root) to have "
        "them in one place again",
        path,
        problem,
        fresh,
        path,
    )
    return fresh


def thespian_log_file(admin_port: int) -> Path:
    """Where thespian logs: THESPLOG_FILE if no one else may write in its directory, else
    thespian-<admin port>.log in the private directory."""
    chosen = os.environ.get("THESPLOG_FILE")
    if chosen:
        try:
            parent = os.stat(Path(chosen).parent)
            if parent.st_uid in (os.getuid(), 0) and not parent.st_mode & 0o022:
                return Path(chosen)
        except OSError:
            pass
        log.warning(
            "THESPLOG_FILE=%s is in a directory that is missing or that other users may write to; "
            "thespian logs in the brain's private directory instead (name a file in a directory only "
            "you can write to)",
            chosen,
        )
    return private_directory() / f"thespian-{admin_port}.log"


def _reap_exited_children() -> None:
    # thespian daemonises its admin with a double fork and never waits for the
    # intermediate process, which would otherwise stay a zombie for the brain's life.
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _log_defs() -> dict:
    # Actor processes log through thespian's logger process to stderr: our own actors
    # at INFO, thespian's internals only at WARNING.
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "level": "INFO"}},
        "loggers": {"actors": {"level": "INFO"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "disable_existing_loggers": False,
    }
