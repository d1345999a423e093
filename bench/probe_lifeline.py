"""The lifeline and acknowledgement probe (a review of issue 22, items 2 and 7), repeatable
(not CI): what the Lifeline makes of a clock step, whether its reaper ends an actor deaf to
the shutdown, and what answers that are not acknowledgements do to a `brain join`.

    .venv/bin/python -m bench.probe_lifeline

1. a step of the wall clock, as psutil sees one (a copy of this process's /proc files with
   /proc/stat's btime moved by 1 s and by an hour): how far psutil's create_time() moves,
   and whether the Lifeline still holds this process alive;
2. a brain whose `harness.cortexes:Deaf` stays in its handler (starting short-lived helpers),
   SIGKILLed: how long its actor processes outlive it, and whether a brain starts again on
   the same admin port and echoes;
3. a fake leader on 127.0.0.1 that answers each message with no size, an unsigned frame and
   a size over the cap, and closes; `brain join` re-registers every second: how many of its
   messages the leader heard in 28 s (thespian keeps 20 sends in flight), and whether the
   member then stops cleanly through its admin.
Bounded: about two minutes. Loopback only.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil

from actors.lifeline import GRACE_S, alive, start_of
from harness.brains import Brain, Member, running_brain
from harness.configs import ECHO_TICKER, write_config
from harness.processes import admin_session, processes_in_session
from harness.report import table
from harness.waits import wait_until

DEAF = """
[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "deaf"
type = "harness.cortexes:Deaf"
subscribes = ["text"]
"""


def answers(brain) -> str:
    try:
        with brain.eye() as eye:
            eye.wait_ready(30)
            return "yes" if eye.ask("still there?", 30)["text"] == "still there?" else "no"
    except Exception as exc:  # (any failure to answer is the finding)
        return f"no ({type(exc).__name__})"


def clock_part(tmp: Path) -> list[tuple[str, str, str]]:
    pid, rows = os.getpid(), []
    started, created = start_of(pid), psutil.Process(pid).create_time()
    for step_s in (1, 3600):
        procfs = tmp / f"proc-{step_s}"
        (procfs / str(pid)).mkdir(parents=True)
        lines = Path("/proc/stat").read_text().splitlines()
        moved = [f"btime {int(x.split()[1]) + step_s}" if x.startswith("btime ") else x for x in lines]
        (procfs / "stat").write_text("\n".join(moved) + "\n")
        for name in ("stat", "status", "cmdline"):
            (procfs / str(pid) / name).write_bytes(Path(f"/proc/{pid}/{name}").read_bytes())
        psutil.PROCFS_PATH = str(procfs)
        try:
            shift = psutil.Process(pid).create_time() - created
            held = alive(pid, started)
        finally:
            psutil.PROCFS_PATH = "/proc"
        rows.append(
            (
                f"clock stepped by {step_s} s (btime as psutil reads it)",
                f"psutil's create_time moved {shift:+.0f} s; the Lifeline holds the brain "
                + ("alive" if held else "GONE"),
                "",
            )
        )
    return rows


def deaf_part(tmp: Path) -> list[tuple[str, str, str]]:
    brain = Brain(write_config(tmp / "brain.toml", DEAF), tmp)
    try:
        with brain.eye() as eye:
            eye.wait_ready(30)
            eye.send("stay")
            eye.wait_for(lambda o: o["kind"] == "deaf" and o["text"] == "staying", 15)
            count = len(brain.processes())
            brain.proc.kill()
            killed = time.monotonic()
            if wait_until(lambda: not brain.processes(), GRACE_S + 20, 0.05):
                happened = f"{count} actor processes; none left after {time.monotonic() - killed:.1f} s"
            else:
                left = sorted({p.name() for p in brain.processes()})
                happened = f"{count} actor processes; {len(left)} kinds left after {GRACE_S + 20:.0f} s: {left}"
    finally:
        brain.stop()
        brain.kill_leftovers()
    rows = [("SIGKILL a brain with a cortex deaf to the shutdown", happened, "")]
    try:
        with running_brain(ECHO_TICKER, tmp, admin_port=brain.admin_port) as again:
            rows.append(("start again on the same admin port", "started", answers(again)))
    except RuntimeError as exc:
        rows.append(("start again on the same admin port", f"refused: {str(exc).splitlines()[-1][:80]}", "no"))
    return rows


class FakeLeader:
    """Answers each connection's message with `answer` (not an acknowledgement), then closes."""

    def __init__(self, answer: bytes):
        self.answer, self.messages = answer, 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    if connection.recv(65536):
                        self.messages += 1
                    connection.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()


def acknowledgement_part(tmp: Path) -> list[tuple[str, str, str]]:
    rows = []
    for what, answer in (("no size", b"this is not a frame, it has no size"), ("unsigned", b"5>hello")):
        leader = FakeLeader(answer)
        env = {"CORTICAL_ACTOR_SECRET": secrets.token_hex(32), "CONVENTION_REREGISTRATION_PERIOD": "0:01"}
        member = Member(SimpleNamespace(admin_port=leader.port), "127.0.0.1", "cpu", tmp, env)
        try:
            time.sleep(28)  # (the probe measures what 28 s bring; a test waits on an event)
            heard, live = leader.messages, member.proc.poll() is None
            sid = admin_session(member.admin_port)
            code = member.stop()
            clean = wait_until(lambda: not processes_in_session(sid), 5) and "without stopping" not in member.log
        finally:
            member.stop()
            leader.close()
        rows.append(
            (
                f"fake leader answers '{what}' (28 s, re-registering each 1 s)",
                f"heard {heard} messages; member {'alive' if live else 'DEAD'}; stop exit {code}, "
                + ("through its admin" if clean else "left to the lifeline"),
                "",
            )
        )
    return rows


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        parts = {name: Path(tmp) / name for name in ("clock", "deaf", "acks")}
        for path in parts.values():
            path.mkdir()
        rows += clock_part(parts["clock"])
        rows += deaf_part(parts["deaf"])
        rows += acknowledgement_part(parts["acks"])
    table(("tried", "what happened", "answers after"), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
