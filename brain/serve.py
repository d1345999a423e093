"""`brain serve`: the actor system, the brain's core actors (session supervisor, model
directory), the gateway with its bridge and the events server, and the watchdog that ends
the brain when its actor system dies."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from brain.actor_network import NetworkGuard
from brain.actor_system import AdminPortBusy, start_actor_system
from brain.config import Config

__all__ = ["serve", "ACTOR_SYSTEM_DIED"]

log = logging.getLogger("brain")

ACTOR_SYSTEM_DIED = 4  # exit code (brain/join.py exits with it too)
#: Blocks up to this size stay in the gateway's heap for the next snapshot (see _serve).
GATEWAY_BUFFERS_BYTES = 4 * 2**20


def serve(config: Config, guard: NetworkGuard) -> int:
    """Start the actor system, the core actors and the gateway; serve until stopped.
    Returns the exit code."""
    from actors.messages import Ping
    from actors.models.directory import ModelDirectory
    from actors.models.messages import StartDirectory
    from actors.preload import preload
    from actors.sessions.reflector import Reflector
    from actors.sessions.supervisor import SessionSupervisor

    _raise_open_files_limit()
    preload()  # (shared by every actor process, which are all forked from here)
    # The actor system forks its admin: start it before any thread exists.
    try:
        system = start_actor_system(guard, config.actors.admin_port)
    except AdminPortBusy as exc:
        print(f"brain: {exc}", file=sys.stderr)
        return 3
    # Until asyncio takes over the signals, turn them into a clean exit.
    signal.signal(signal.SIGTERM, _raise_exit)
    code = 1
    try:
        reflector = system.createActor(Reflector)
        supervisor = system.createActor(SessionSupervisor)
        core_pids = {"session supervisor": system.ask(supervisor, Ping(), 10).pid}
        services = {}
        if config.models:
            # Loads in the background: eyes connect at once and are told when models are ready.
            services["models"] = system.createActor(ModelDirectory)
            core_pids["model directory"] = system.ask(services["models"], Ping(), 10).pid
            system.tell(services["models"], StartDirectory(config.models, config.holder.settings(config.actors)))
            log.info(
                "loading %d model(s) in the model holder: %s",
                len(config.models),
                ", ".join(f"{m.name} ({m.path})" for m in config.models),
            )
        code = asyncio.run(_serve(config, reflector, services, supervisor, core_pids))
        return code
    except KeyboardInterrupt:
        code = 130
        return code
    finally:
        # A second Ctrl-C must not interrupt the shutdown and orphan actors.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if code != ACTOR_SYSTEM_DIED:  # (with its admin gone, shutdown() would wait in vain)
            system.shutdown()
            log.info("actor system shut down; bye")


def _raise_open_files_limit() -> None:
    """The gateway holds ~30 files an eye (a pipe to each cortex, the last snapshots, the
    actors' connections): 50 eyes pass the usual soft limit of 1,024. Take the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > soft):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            log.warning("could not raise the open files limit from %d", soft)


async def _serve(config: Config, reflector, services: dict, supervisor, core_pids: dict) -> None:
    from actors.preload import tune_malloc
    from brain.bridge import Bridge
    from brain.events import serve_events
    from brain.gateway import Gateway
    from brain.watchdog import watch_actor_system

    # The actor processes are forked by now. A snapshot of 100-500 KB passes through the
    # gateway's buffers several times: mapping them anew each time (the forks' 128 KB
    # threshold, actors/preload.py) cost 450 page faults and ~1 ms a 1920×1280 frame.
    tune_malloc(mmap_threshold=GATEWAY_BUFFERS_BYTES, trim_threshold=2 * GATEWAY_BUFFERS_BYTES)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda s=signum: stop.done() or stop.set_result(s))
    gateway = Gateway(config, services, supervisor)
    bridge = Bridge(loop, reflector, gateway.deliver, config.actors.send_lanes)
    bridge.on_linked = gateway.linked
    await bridge.start()

    def actor_system_died() -> None:
        gateway.actor_system_alive = False
        if not stop.done():
            stop.set_result(ACTOR_SYSTEM_DIED)

    watchdog = asyncio.create_task(
        watch_actor_system(
            config.actors.host,
            config.actors.admin_port,
            {"admin": bridge.admin_pid, **core_pids},
            bridge.actor_sid,
            actor_system_died,
        )
    )
    try:
        await asyncio.gather(gateway.serve(bridge, stop), serve_events(config, gateway, stop))
        if stop.result() == ACTOR_SYSTEM_DIED:
            return ACTOR_SYSTEM_DIED
        log.info("stopping on %s", signal.Signals(stop.result()).name)
        return 0
    finally:
        watchdog.cancel()
        bridge.close_links()
        if stop.result() != ACTOR_SYSTEM_DIED:
            await loop.run_in_executor(None, bridge.stop)


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)
