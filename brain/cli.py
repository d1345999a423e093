"""The `brain` command: `brain serve --config config/default.toml`, `brain join --leader …`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import socket
import sys
import time

from brain import teach_files
from brain.actor_network import NetworkGuard, is_loopback
from brain.actor_system import AdminPortBusy, private_directory, start_actor_system
from brain.config import CAPABILITY, ActorsConfig, Config, ConfigError, load_config, parse_config
from brain.gpu import answer, ask_tensorflow, gpu_warning, gpus_known
from brain.thespian_patches import ThespianVersionError, check_version

__all__ = ["main"]

log = logging.getLogger("brain")

ACTOR_SYSTEM_DIED = 4  # exit code
#: Blocks up to this size stay in the gateway's heap for the next snapshot (see _serve).
GATEWAY_BUFFERS_BYTES = 4 * 2**20


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
    join = commands.add_parser(
        "join",
        help="lend this machine to a leader brain: its model holders that require what this machine offers run here",
    )
    join.add_argument(
        "--leader",
        required=True,
        metavar="HOST:PORT",
        help="the leader's actor system: its [actors] host and admin_port",
    )
    join.add_argument(
        "--capabilities",
        default="",
        metavar="LIST",
        help="what this machine offers, comma-separated (e.g. gpu,faces); matched against "
        "`requires` in the leader's [[model]] stanzas",
    )
    join.add_argument("--config", help="take [actors] from this file (defaults otherwise)")
    join.add_argument("--host", help="this machine's address on the private network ([actors] host)")
    join.add_argument("--admin-port", type=int, help="[actors] admin_port of this machine")
    join.add_argument(
        "--allow",
        default="",
        metavar="LIST",
        help="more peers allowed to connect, comma-separated addresses or networks "
        "([actors] allowed_peers); the leader is always allowed",
    )
    join.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    teach_files.add_parser(commands)
    top = commands.add_parser("top", help="the live view of a running brain, in this terminal")
    top.add_argument("--url", default="http://127.0.0.1:8080", help="the brain's eye page")
    top.add_argument("--token", default=os.environ.get("CORTICAL_EYE_TOKEN", ""), help="the eye token, if one is set")
    top.add_argument("--once", action="store_true", help="print once and exit")
    return parser


class CannotStart(RuntimeError):
    """A reason, in a sentence, why the brain will not start."""


def _network_guard(actors: ActorsConfig, joining: bool = False) -> NetworkGuard:
    secret = os.environ.get(actors.secret_env, "")
    if not secret and (joining or not is_loopback(actors.host)):
        why = "joins another brain" if joining else f"listens on {actors.host}, which other machines can reach"
        raise CannotStart(
            f"the actor system {why}, so every actor message must be signed with a shared secret: "
            f"set {actors.secret_env} to the same value on every machine, e.g. "
            f"`export {actors.secret_env}=$(openssl rand -hex 32)`"
        )
    if secret and len(secret) < 16:
        raise CannotStart(
            f"{actors.secret_env} is too short ({len(secret)} characters); use at least 16, e.g. `openssl rand -hex 32`"
        )
    return NetworkGuard.for_host(
        actors.host, actors.allowed_peers, secret, actors.max_message_bytes, actors.max_unauthenticated_bytes
    )


def _with_overrides(config: Config, args: argparse.Namespace) -> Config:
    server = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    actors = {"admin_port": args.admin_port} if args.admin_port is not None else {}
    events = {"port": args.events_port} if args.events_port is not None else {}
    return dataclasses.replace(
        config,
        server=dataclasses.replace(config.server, **server),
        actors=dataclasses.replace(config.actors, **actors),
        events=dataclasses.replace(config.events, **events),
    )


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


def main(argv: list[str] | None = None) -> int:
    # The brain's data (teach samples and heads, faces, alert snapshots, logs) is its user's
    # alone: 0600 files, 0700 directories. Set before the actor system forks: every actor
    # inherits it.
    os.umask(0o077)
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per connection and HTTP request drowns what matters.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    if args.command in ("serve", "join"):
        try:
            check_version()  # (the patches to thespian's internals fit one version only)
        except ThespianVersionError as exc:
            print(f"brain: {exc}", file=sys.stderr)
            return 2
    if args.command == "join":
        return _join(args)
    if args.command == "top":
        from brain import top

        return top.run(args.url, args.token, args.once)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"brain: the config is not valid: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{args.config}: OK ({len(config.cortexes)} cortexes)")
        return 0
    if args.command == "teach":
        return teach_files.run(args, config)
    config = _with_overrides(config, args)
    try:
        guard = _network_guard(config.actors)
    except CannotStart as exc:
        print(f"brain: {exc}", file=sys.stderr)
        return 2

    from actors.messages import Ping, StartDirectory
    from actors.models.directory import ModelDirectory
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


def _join(args: argparse.Namespace) -> int:
    from actors.messages import WhoAmI
    from actors.models.host_beacon import LEFT_BEHIND_ENV
    from actors.models.placement import HOST, OFFERS
    from actors.sessions.reflector import Reflector
    from brain.watchdog import process_alive

    try:
        actors, leader, name, offers = _join_settings(args)
        guard = _network_guard(actors, joining=True)
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


if __name__ == "__main__":
    sys.exit(main())
