"""A real brain for tests and benchmarks: `brain serve` (Brain) or `brain join` (Member) as
a subprocess on free ports, its log kept, its actor processes found and ended, and what it
says over HTTP (the live view's state, /metrics).

`make test-fast` runs the pure tests alone and sets CORTICAL_TEST_FAST: there, starting a
brain fails at once with a sentence (a test that starts one and was not marked `real`)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psutil

from harness import ROOT
from harness.configs import write_config
from harness.eyes import Eye
from harness.processes import actor_session, admin_session, leader_started, process_title, processes_in_session
from harness.waits import wait_until

#: Set by `make test-fast`, which runs the pure tests alone (pytest -m "not real").
TEST_FAST = "CORTICAL_TEST_FAST"


class StartRefused(Exception):
    """A brain was to start where only pure tests run (not a RuntimeError: Brain retries those)."""


def start_refused(environ: Mapping[str, str], what: str = "brain") -> str:
    """Why a `what` may not start here ("" if it may): under `make test-fast` a test that
    starts one was not marked `real`, and would make the fast loop slow."""
    if not environ.get(TEST_FAST):
        return ""
    return (
        f"This test starts a {what}, but this is `make test-fast` ({TEST_FAST} is set), which runs only "
        "the pure tests: mark the test with @pytest.mark.real (or name what starts it in "
        "tests/conftest.py's _STARTS_SOMETHING) so that test-fast leaves it out, and run it with `make test`."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _BrainProcess:
    """A `brain …` subprocess whose log is kept for assertions and failure reports."""

    def __init__(self, args: list[str], env: dict, ready_line: str, what: str):
        self.log_lines: list[str] = []
        if refused := start_refused(os.environ, what):
            raise StartRefused(refused)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "brain.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not wait_until(
            lambda: any(ready_line in line for line in self.log_lines) or self.proc.poll() is not None, 30
        ):
            self.stop()
            raise RuntimeError(f"{what} did not start:\n" + self.log)
        if self.proc.poll() is not None:
            self._reader.join(5)  # (its last words may still be in the pipe: a busy machine)
            raise RuntimeError(f"{what} exited at start:\n" + self.log)

    def _read_log(self) -> None:
        for line in self.proc.stdout:
            self.log_lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.log_lines)

    def processes(self) -> list[psutil.Process]:
        raise NotImplementedError

    def named(self, title: str) -> list[psutil.Process]:
        """Its actor processes of one class (setproctitle names them "Class ActorAddr-…")."""
        return [p for p in self.processes() if process_title(p).startswith(title + " ")]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def kill_leftovers(self) -> None:
        for proc in self.processes():
            try:
                proc.kill()
            except psutil.Error:
                pass


class Brain(_BrainProcess):
    """`brain serve` on free ports."""

    def __init__(
        self,
        config: Path,
        tmp: Path,
        extra_args: tuple[str, ...] = (),
        env: dict | None = None,
        admin_port: int | None = None,
    ):
        self.tmp = tmp
        env = {**os.environ, "THESPLOG_FILE": str(tmp / "thespian.log"), "PYTHONUNBUFFERED": "1", **(env or {})}
        env = {name: value for name, value in env.items() if value is not None}  # (None: unset it)
        # The brain binds the eye and events ports itself (0: any free port) and logs them:
        # a port picked here and closed again was once taken by another process meanwhile.
        for attempt in range(3):
            self.admin_port = admin_port or free_port()
            try:
                args = [
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    "0",
                    "--admin-port",
                    str(self.admin_port),
                    "--events-port",
                    "0",
                    *extra_args,
                ]
                super().__init__(args, env, "eye page on", "brain")
                break
            except RuntimeError:
                if self.proc.returncode != 3 or admin_port or attempt == 2:  # 3: the admin port was taken
                    raise
        self.port = int(re.search(r"eye page on https?://[^ ]*:(\d+)/", self.log).group(1))
        self.session_id = actor_session(self.admin_port)
        self.session_started = leader_started(self.session_id)
        if not self.session_id:
            self.stop()
            raise RuntimeError("brain started, but its actor system was not found:\n" + self.log)

    @property
    def events_port(self) -> int:
        wait_until(lambda: "events endpoint on" in self.log, 10)
        return int(re.search(r"events endpoint on https?://[^ ]*:(\d+)/events", self.log).group(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def processes(self) -> list[psutil.Process]:
        return processes_in_session(self.session_id, self.session_started)

    def thespian_log(self, tail: int = 6000) -> str:
        """The end of what thespian itself logged (its warnings: failed or retried sends)."""
        path = self.tmp / "thespian.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"thespian.log: {text[-tail:]}" if text else "thespian.log: (nothing)"

    def eye(self, name: str = "", **kwargs) -> Eye:
        """An eye of this brain; named `name` (?eye=…) if given, else the brain names it."""
        return Eye(self.ws_url + (f"?eye={name}" if name else ""), **kwargs)


class Member(_BrainProcess):
    """A `brain join` subprocess: another "host" of the leader's convention, on its own
    loopback address (127.0.0.2, …) and admin port."""

    def __init__(
        self,
        leader: Brain,
        host: str,
        capabilities: str,
        tmp: Path,
        env: dict | None = None,
        admin_port: int | None = None,
    ):
        self.host = host
        self.sessions: dict[int, float] = {}  # of every actor system it has run → its leader's start
        self.admin_port = admin_port or free_port()
        self.name = f"{host}:{self.admin_port}"
        env = {**os.environ, "THESPLOG_FILE": str(tmp / f"thespian-{host}.log"), "PYTHONUNBUFFERED": "1", **(env or {})}
        env = {name: value for name, value in env.items() if value is not None}  # (None: unset it)
        super().__init__(
            [
                "join",
                "--leader",
                f"127.0.0.1:{leader.admin_port}",
                "--capabilities",
                capabilities,
                "--host",
                host,
                "--admin-port",
                str(self.admin_port),
            ],
            env,
            "joins the leader",
            "member",
        )
        self.processes()  # (its first actor system's session, kept for the leftovers)

    def processes(self) -> list[psutil.Process]:
        """Its actor system's processes, and any left of the ones it ran before: a member
        that joins afresh runs a new actor system (looked up each time), and one that
        outlived its system's shutdown is a leak to see, and to end."""
        if (sid := admin_session(self.admin_port)) and sid not in self.sessions:
            self.sessions[sid] = leader_started(sid)
        return [proc for sid in sorted(self.sessions) for proc in processes_in_session(sid, self.sessions[sid])]

    def crash(self) -> None:
        """The host dies: every process of its actor system and its `brain join` at once."""
        for proc in [*self.processes(), psutil.Process(self.proc.pid)]:
            try:
                proc.kill()
            except psutil.Error:
                pass
        self.proc.wait(10)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        code = super().stop(signum, timeout)
        self.kill_leftovers()
        return code


@contextmanager
def running_brain(
    config_text: str,
    tmp: Path,
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    admin_port: int | None = None,
) -> Iterator[Brain]:
    """A brain on `config_text`, stopped (and any leftover actor killed) afterwards."""
    running = Brain(write_config(tmp / "brain.toml", config_text), tmp, extra_args, env, admin_port)
    try:
        yield running
    finally:
        running.stop()
        running.kill_leftovers()


def brain_state(brain) -> dict:
    """The live view's JSON (GET /brain/state)."""
    with urllib.request.urlopen(brain.url + "/brain/state", timeout=5) as response:
        return json.load(response)


def metric(brain, sample: str) -> float:
    """One sample of the brain's /metrics, named as it reads there: `name{label="…",…}`
    (0 while it has not been counted yet)."""
    with urllib.request.urlopen(brain.url + "/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    line = next((x for x in lines if x.startswith(sample + " ")), "")
    return float(line.split()[-1]) if line else 0.0


def frames_received(brain) -> int:
    """Snapshots the brain has received so far (its /metrics): what reached it on the wire."""
    return int(metric(brain, 'cortical_messages_in_total{kind="image"}'))
