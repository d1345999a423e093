"""The `brain` command: `brain serve --config config/default.toml`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys

from brain.actor_system import AdminPortBusy, start_actor_system
from brain.config import Config, ConfigError, load_config

__all__ = ["main"]

log = logging.getLogger("brain")

ACTOR_SYSTEM_DIED = 4  # exit code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brain", description="Cortical: a brain for browser eyes.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the eye page and /ws, and run the actors")
    serve.add_argument("--config", default="config/default.toml", help="topology file (TOML)")
    serve.add_argument("--host", help="override [server] host")
    serve.add_argument("--port", type=int, help="override [server] port (0: any free port)")
    serve.add_argument("--admin-port", type=int, help="override [actors] admin_port")
    serve.add_argument("--events-port", type=int, help="override [events] port (0: any free port)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    check = commands.add_parser("check", help="validate a config file and exit")
    check.add_argument("--config", default="config/default.toml")
    return parser


def _with_overrides(config: Config, args: argparse.Namespace) -> Config:
    server = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    actors = {"admin_port": args.admin_port} if args.admin_port is not None else {}
    events = {"port": args.events_port} if args.events_port is not None else {}
    return dataclasses.replace(config, server=dataclasses.replace(config.server, **server),
                               actors=dataclasses.replace(config.actors, **actors),
                               events=dataclasses.replace(config.events, **events))


async def _serve(config: Config, reflector, services: dict, supervisor, core_pids: dict) -> None:
    from brain.bridge import Bridge
    from brain.events import serve_events
    from brain.gateway import Gateway
    from brain.watchdog import watch_actor_system

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda s=signum: stop.done() or stop.set_result(s))
    gateway = Gateway(config, services, supervisor)
    bridge = Bridge(loop, reflector, gateway.deliver, config.actors.send_lanes)
    await bridge.start()

    def actor_system_died() -> None:
        gateway.actor_system_alive = False
        if not stop.done():
            stop.set_result(ACTOR_SYSTEM_DIED)

    watchdog = asyncio.create_task(watch_actor_system(config.actors.host, config.actors.admin_port,
                                                      {"admin": bridge.admin_pid, **core_pids},
                                                      bridge.actor_sid, actor_system_died))
    try:
        await asyncio.gather(gateway.serve(bridge, stop), serve_events(config, gateway, stop))
        if stop.result() == ACTOR_SYSTEM_DIED:
            return ACTOR_SYSTEM_DIED
        log.info("stopping on %s", signal.Signals(stop.result()).name)
        return 0
    finally:
        watchdog.cancel()
        if stop.result() != ACTOR_SYSTEM_DIED:
            await loop.run_in_executor(None, bridge.stop)


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per connection and HTTP request drowns what matters.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"brain: the config is not valid: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{args.config}: OK ({len(config.cortexes)} cortexes)")
        return 0
    config = _with_overrides(config, args)

    from actors.messages import Ping, StartDirectory
    from actors.model_directory import ModelDirectory
    from actors.reflector import Reflector
    from actors.session_supervisor import SessionSupervisor

    # The actor system forks its admin: start it before any thread exists.
    try:
        system = start_actor_system(config.actors.host, config.actors.admin_port)
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
            system.tell(services["models"], StartDirectory(config.models, config.holder.settings()))
            log.info("loading %d model(s) in the model holder: %s", len(config.models),
                     ", ".join(f"{m.name} ({m.path})" for m in config.models))
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


if __name__ == "__main__":
    sys.exit(main())
