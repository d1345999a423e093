"""The processes of a brain's actor system, found by the session id its admin set (every
actor is forked from the admin, which calls setsid()), and their titles."""

from __future__ import annotations

import os
import time

import psutil


def admin_session(admin_port: int) -> int:
    """The session id of the actor system whose admin has admin_port (0 if none runs).

    thespian's admin calls setsid(), and every actor is forked from it, so they all share
    the admin's session id. The admin is known by its title (setproctitle's "MultiProcAdmin
    ActorAddr-(T|…:PORT)"), not by who listens on the port: once the system has ended, any
    process may listen there (a brain's eye server, on port 0), and "its leftovers", that
    process's session, would be the whole test run (the likeliest end of a killed CI run).
    """
    for proc in psutil.process_iter():
        title = process_title(proc)
        if title.startswith("MultiProcAdmin ") and title.endswith(f":{admin_port})"):
            try:
                return os.getsid(proc.pid)
            except ProcessLookupError:  # (it ended since it was listed)
                continue
    return 0


def actor_processes(admin_port: int) -> list[psutil.Process]:
    """Live (not zombie) processes of the actor system whose admin has admin_port."""
    return processes_in_session(admin_session(admin_port))


def actor_session(admin_port: int, timeout: float = 10) -> int:
    """The session id of the actor system on admin_port (0 if none shows up in time).

    Looked up until it holds: the admin may not have its title yet, or a process listed
    may have ended since (the admin's daemonising fork, say), which once failed a test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sid := admin_session(admin_port):
            return sid
        time.sleep(0.05)
    return 0


def leader_started(sid: int) -> float:
    """When the leader of session `sid` (the process whose pid it is) started; 0 if gone."""
    try:
        return psutil.Process(sid).create_time()
    except psutil.Error:
        return 0.0


def processes_in_session(sid: int, started: float = 0.0) -> list[psutil.Process]:
    """The processes of session `sid`; with `started` (leader_started once), none if that
    number now leads a newer session. A session's number is not reused while any process of
    it lives, but once all have ended (a brain stopped cleanly) a new actor system's admin
    may get that pid and call setsid: its brain, another test's, is not our leftovers."""
    if not sid or sid == os.getsid(0):
        return []  # (never the test run's own: its leftovers would be the run itself)
    if started and leader_started(sid) not in (0.0, started):
        return []
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


def process_title(proc: psutil.Process) -> str:
    """argv[0] (setproctitle's title), or "" for a process that ended since it was listed."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return ""
    return cmdline[0] if cmdline else ""
