"""Start and stop the thespian actor system, protected as brain/actor_network.py says."""

from __future__ import annotations

import logging
import os
import socket

from brain.actor_network import NetworkGuard, guard_actor_network

__all__ = ["AdminPortBusy", "start_actor_system"]

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


def start_actor_system(
    guard: NetworkGuard, admin_port: int, capabilities: dict | None = None, log_file: str | None = None
):
    """Start a fresh multiprocTCPBase admin on guard.host:admin_port and return the ActorSystem.

    `capabilities` are added to thespian's (e.g. the convention leader's address).
    Must run before any thread is started: the admin and actors are forked.
    """
    from thespian.actors import ActorSystem, InvalidActorAddress

    host = guard.host
    _check_port_free(host, admin_port)
    _convention_timing(os.environ.get("CONVENTION_REREGISTRATION_PERIOD", CONVENTION_REREGISTRATION_PERIOD))
    if log_file:
        os.environ["THESPLOG_FILE"] = log_file
    guard_actor_network(guard)
    log_defs = _log_defs()
    _let_the_admin_restart_its_logger(log_defs)
    try:
        system = ActorSystem(SYSTEM_BASE, {"Admin Port": admin_port, **(capabilities or {})}, logDefs=log_defs)
    except InvalidActorAddress as exc:  # (taken since the check: thespian found no admin of its own there)
        raise AdminPortBusy(
            f"the actor admin port {host}:{admin_port} was taken by something else as the brain "
            "started; start it again, or choose another [actors] admin_port."
        ) from exc
    _reap_exited_children()
    log.info("actor system started on %s:%d", host, admin_port)
    return system


def _convention_timing(period: str) -> None:
    """How often a joined host re-registers with its leader (thespian's default, 7 min 22 s,
    would keep a restarted leader waiting that long for its hosts).

    Both periods must change together: a member admin that has not heard its leader's
    answer yet sleeps CONVENTION_RESTART_PERIOD (3 min 22 s) before it re-registers
    (thespian's `convention_inattention_delay` falls back to it whenever its running timer
    is falsy, i.e. not expired), while the leader drops a member after three missed
    periods: every joined host was dropped ("it left") ~80 s after joining, and its
    holders were loaded anew. Set on the module, which reads them at each use, so that
    an earlier import of it cannot keep thespian's defaults."""
    from thespian.system.admin import convention
    from thespian.system.utilis import str_to_timedelta

    convention.CONVENTION_REREGISTRATION_PERIOD = str_to_timedelta(period)
    convention.CONVENTION_RESTART_PERIOD = str_to_timedelta(period)


def _let_the_admin_restart_its_logger(log_defs: dict) -> None:
    """thespian 4.0.1's admin restarts a dead logger process with `self.logDefs`, which it
    never sets: the restart raised AttributeError and the admin died with it (measured:
    killing the logger ended the brain in 1.8 s). The admin is forked from here, so a
    class attribute set now is what it finds."""
    from thespian.system.multiprocCommon import MultiProcAdmin

    MultiProcAdmin.logDefs = log_defs


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
