"""Start and stop the thespian actor system, reachable only from a chosen host address.

thespian's TCP transport binds every interface and unpickles whatever arrives, so an
open admin port is remote code execution. THESPIAN_BASE_IPADDR only changes the
address thespian *advertises*; the patch below makes every actor socket also *bind*
to that address. It is applied in the brain before the admin is forked, so the admin
and every actor (all forked from it) inherit it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AdminPortBusy", "bind_actor_sockets_to", "start_actor_system", "actor_system"]

log = logging.getLogger(__name__)

SYSTEM_BASE = "multiprocTCPBase"


class AdminPortBusy(RuntimeError):
    """Something already listens on the admin port (often an orphaned admin)."""


def bind_actor_sockets_to(host: str) -> None:
    """Make thespian bind its sockets to *host* instead of every interface."""
    from thespian.system.transport import IPBase

    if getattr(IPBase.IPActorAddress, "_cortical_bound_to", None) == host:
        return
    original_init = getattr(IPBase.IPActorAddress, "_cortical_original_init", None)
    original_init = original_init or IPBase.IPActorAddress.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # thespian binds ('', port) for "external" addresses; bind the advertised
        # host instead when it is ours, so other hosts cannot connect at all.
        if self.sockname[0] == host:
            self.bindname = self.sockname

    IPBase.IPActorAddress.__init__ = __init__
    IPBase.IPActorAddress._cortical_original_init = original_init
    IPBase.IPActorAddress._cortical_bound_to = host


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


def start_actor_system(host: str, admin_port: int, log_file: str | None = None):
    """Start a fresh multiprocTCPBase admin on host:admin_port and return the ActorSystem.

    Must run before any thread is started: the admin and actors are forked.
    """
    from thespian.actors import ActorSystem

    _check_port_free(host, admin_port)
    os.environ["THESPIAN_BASE_IPADDR"] = host
    if log_file:
        os.environ["THESPLOG_FILE"] = log_file
    bind_actor_sockets_to(host)
    capabilities = {"Admin Port": admin_port}
    system = ActorSystem(SYSTEM_BASE, capabilities, logDefs=_log_defs())
    _reap_exited_children()
    log.info("actor system started on %s:%d", host, admin_port)
    return system


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


@contextmanager
def actor_system(host: str, admin_port: int, log_file: str | None = None) -> Iterator[object]:
    """The actor system for the duration of a with-block, always shut down after."""
    system = start_actor_system(host, admin_port, log_file)
    try:
        yield system
    finally:
        system.shutdown()
        log.info("actor system shut down")
