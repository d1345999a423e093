"""The `brain` command: `brain serve --config config/default.toml`, `brain join --leader …`,
`brain check`, `brain teach`, `brain top`. Parses the command line and hands over:
serving to brain/serve.py, joining a leader to brain/join.py."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from brain import teach_files
from brain.actor_network import CannotStart, network_guard
from brain.config import Config, ConfigError, load_config
from brain.thespian_patches import ThespianVersionError, check_version

__all__ = ["main"]

log = logging.getLogger("brain")


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
        from brain.join import join

        return join(args)
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
        guard = network_guard(config.actors)
    except CannotStart as exc:
        print(f"brain: {exc}", file=sys.stderr)
        return 2
    from brain.serve import serve

    return serve(config, guard)


if __name__ == "__main__":
    sys.exit(main())
