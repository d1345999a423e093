"""`brain join`: lend this machine to a leader's convention; it runs the model holders the
leader places here until stopped, and joins afresh when the leader stops using it."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time

from brain.actor_network import CannotStart, is_loopback, network_guard
from brain.actor_system import AdminPortBusy, private_directory, start_actor_system
from brain.config import CAPABILITY, ActorsConfig, ConfigError, load_config, parse_config
from brain.gpu import answer, ask_tensorflow, gpu_warning, gpus_known
from brain.serve import ACTOR_SYSTEM_DIED

__all__ = ["join"]

log = logging.getLogger("brain")


def _join_settings(args: argparse.Namespace) -> tuple[ActorsConfig, str, str, tuple[str, ...]]:
    """[actors] for a joining machine, the leader's HOST:PORT, this host's name and its offers."""
    leader_host, _, leader_port = args.leader.rpartition(":")
    if not leader_host or not leader_port.isdigit() or not 0 < int(leader_port) < 65536:
        raise CannotStart(f"--leader {args.leader!r} is not HOST:PORT (the leader's [actors] host and admin_port)")
    offers = tuple(sorted({c.strip() for c in args.capabilities.split(",") if c.strip()}))
    actors = {}
    if args.config:
        actors = dict(load_config(args.config).actors.__dict__)
    overrides = {"host": args.host, "admin_port": args.admin_port}
    actors.update({k: v for k, v in overrides.items() if v is not None})
    peers = [p.strip() for p in args.allow.split(",") if p.strip()]
    actors["allowed_peers"] = [*actors.get("allowed_peers", []), *peers, leader_host]
    config = parse_config({"actors": actors}, args.config or "brain join")
    bad = [c for c in offers if not CAPABILITY.fullmatch(c)]
    if bad:
        raise CannotStart(f"--capabilities: {bad[0]!r} is not a capability name (letters, digits, - and _)")
    if is_loopback(config.actors.host) and not is_loopback(leader_host):
        raise CannotStart(
            f"this machine's actor system would listen on {config.actors.host}, which the leader at "
            f"{leader_host} cannot reach: give --host this machine's address on the private network"
        )
    name = f"{config.actors.host}:{config.actors.admin_port}"
    return config.actors, f"{leader_host}:{leader_port}", name, offers


def _say_gpus(offers: list[str], gpus: int | None) -> None:
    if warning := gpu_warning(offers, gpus):
        log.warning(warning)
    else:
        log.info("TensorFlow sees %d GPU(s) here", gpus)


def join(args: argparse.Namespace) -> int:
    from actors.messages import WhoAmI
    from actors.models.host_beacon import LEFT_BEHIND_ENV
    from actors.models.placement import HOST, OFFERS
    from actors.sessions.reflector import Reflector
    from brain.watchdog import process_alive

    try:
        actors, leader, name, offers = _join_settings(args)
        guard = network_guard(actors, joining=True)
    except (CannotStart, ConfigError) as exc:
        print(f"brain: {exc}", file=sys.stderr)
        return 2
    leader_host, _, leader_port = leader.rpartition(":")
    try:
        socket.create_connection((leader_host, int(leader_port)), timeout=2).close()
    except OSError as exc:
        log.warning(
            "the leader's actor system at %s does not answer yet (%s); this host joins when it does", leader, exc
        )
    capabilities = {"Convention Address.IPv4": leader, HOST: name, OFFERS: list(offers)}
    # The beacon (forked from this process, so it inherits the variable) creates this
    # file when the leader has gone silent.
    left_behind = private_directory() / f"join-{os.getpid()}-left-behind"
    left_behind.unlink(missing_ok=True)
    os.environ[LEFT_BEHIND_ENV] = str(left_behind)
    from actors.preload import preload

    preload()
    try:
        system = start_actor_system(guard, actors.admin_port, capabilities)
    except AdminPortBusy as exc:
        print(f"brain: {exc}", file=sys.stderr)
        return 3
    stop: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _: stop.append(s))
    code = 0
    rejoin = False
    probe = None  # TensorFlow, asked whether it sees a GPU
    try:
        you = system.ask(system.createActor(Reflector), WhoAmI(), 10)
        log.info(
            "host %s joins the leader at %s, offering %s; the leader places model holders here",
            name,
            leader,
            ", ".join(offers) or "nothing",
        )
        if "gpu" in offers:
            gpus = gpus_known()
            if gpus == "ask":
                probe = ask_tensorflow()  # (polled below: the host serves meanwhile)
            else:
                _say_gpus(list(offers), gpus)
        while not stop:
            if probe is not None and probe.poll() is not None:
                _say_gpus(list(offers), answer(probe))
                probe = None
            if not process_alive(you.admin_pid):
                log.error(
                    "this host's actor system died (admin pid %d); stopping (exit code %d)",
                    you.admin_pid,
                    ACTOR_SYSTEM_DIED,
                )
                code = ACTOR_SYSTEM_DIED
                break
            # thespian would wait minutes before it registers again with a restarted
            # leader (measured: over a minute, its send to the old one stuck): join afresh.
            if left_behind.exists():
                left_behind.unlink()
                log.warning("the leader at %s stopped using this host; joining afresh for when it is back", leader)
                rejoin = True
                break
            time.sleep(0.5)
        return code
    finally:
        if probe is not None:
            probe.kill()
            probe.wait()
        # (The handlers above only note a signal, so the shutdown below is not interrupted.)
        if code != ACTOR_SYSTEM_DIED:
            system.shutdown()  # leaves the convention: the leader re-places its holders at once
            log.info("left the leader" + ("" if rejoin and not stop else "; bye"))
        if rejoin and not stop:
            # Ignored signals stay ignored across exec: a SIGTERM sent while the new process
            # starts up was lost, and that `brain join` ran on until it was killed.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if not stop:
                os.execv(sys.executable, [sys.executable, "-m", "brain.cli", *sys.argv[1:]])
