"""The outside probe, repeatable (not CI): what a stranger, a bad eye or a killer can do
to the default brain, and whether it lives on. Prints one table per part.

    .venv/bin/python -m bench.probe --eyes 4 --fps 4

1. network: a connect from a disallowed address to every actor port, an unsigned pickle,
   an announced 2 GB actor message, a rebound Host, a ping flood, an unknown command and
   deeply nested arguments: each must be refused and the brain must still answer;
2. the bad-input corpus of the tests, over one eye: every message answered;
3. kills under load: `--eyes` eyes send snapshots while each kind of actor is SIGKILLed
   in turn; seconds until the eyes get labels again (or, for the actors the brain cannot
   live without, how it stops: exit code, time, what the eyes are told).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.objects import photo
from harness.brains import running_brain
from harness.eyes import every_model_ready, handshake_status
from harness.processes import process_title
from harness.waits import wait_until

ROOT = Path(__file__).resolve().parent.parent

#: actors without which the brain stops on purpose (the watchdog; a service manager restarts it)
CORE = ("MultiProcAdmin", "SessionSupervisor", "ModelDirectory")
#: actors that are restarted (or, the reflector, needed only at start) while the brain serves on
RESTARTED = ("Objects", "Faces", "Echo", "Session", "ModelHolder", "logger", "Reflector")


def default_config(tmp: Path) -> str:
    return (ROOT / "config" / "default.toml").read_text().replace('"data/faces"', f'"{tmp / "faces"}"')


def answers(brain, timeout: float = 60) -> bool:
    """A new eye gets a Session and an echo."""
    try:
        with brain.eye(max_size=None) as eye:
            eye.wait_ready(timeout)
            return eye.ask("still there?", timeout)["text"] == "still there?"
    except (OSError, TimeoutError, ConnectionClosed):
        return False


def actor_port(proc) -> int | None:
    """The port in its title, "Class ActorAddr-(T|:port)"; None for a process that is no actor."""
    found = re.search(r":(\d+)\)", process_title(proc))
    return int(found.group(1)) if found else None


def refused_quietly(port: int, payload: bytes = b"", source: str = "127.0.0.2") -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as peer:
            if payload:
                peer.sendall(payload)
            answer = peer.recv(100)
            if not answer:
                return "closed unread"
            return "answered ACK+DATAERR, nothing unpickled" if b"ACK+DATAERR" in answer else f"answered {answer!r}"
    except (ConnectionResetError, BrokenPipeError):
        return "closed unread"
    except OSError as exc:
        return type(exc).__name__


def network_part(brain) -> list[tuple[str, str, bool]]:
    rows = []
    for proc in sorted(brain.processes(), key=process_title):
        title, port = process_title(proc).split(" ")[0], actor_port(proc)
        if port is None:
            continue
        outcome = refused_quietly(port)
        rows.append((f"connect from 127.0.0.2 to {title}", outcome, answers(brain)))
    admin = brain.admin_port
    unsigned = b"%d>" % 20 + b"\x80\x04\x95" + b"\0" * 17
    rows.append(("unsigned message to the admin", refused_quietly(admin, unsigned, "127.0.0.1"), answers(brain)))
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", admin), timeout=5) as peer:
            peer.sendall(b"2000000000>")
            for _ in range(256):
                peer.sendall(b"\0" * (1 << 20))
                sent += 1
    except OSError:
        pass
    rows.append(("announce a 2 GB actor message", f"closed after {sent} MB taken", answers(brain)))
    rows.append(
        ("Host: evil.example (DNS rebinding)", f"HTTP {handshake_status(brain, 'evil.example:80')}", answers(brain))
    )
    with brain.eye() as flooder:
        try:
            for n in range(20_000):
                flooder.ws.ping(str(n))
            flooder.wait_for(lambda o: False, 10)
            outcome = "not closed"
        except ConnectionClosed as closed:
            outcome = f"closed {closed.rcvd.code if closed.rcvd else '?'}"
        except TimeoutError:
            outcome = "not closed"
    rows.append(("20,000 pings", outcome, answers(brain)))
    with brain.eye(max_size=None) as eye:
        eye.wait_ready(60)
        for name, message in (
            ("unknown command", '{"command": "dance"}'),
            ("arguments nested 970 deep", '{"command": "enroll", "name": ' + "[" * 970 + "]" * 970 + "}"),
        ):
            eye.send(message)
            try:
                error = eye.wait_for(lambda o: o["kind"] == "error", 10)
                rows.append((name, f"error: {error['text'][:60]}…", answers(brain)))
            except TimeoutError:
                rows.append((name, "no answer", answers(brain)))
    return rows


def corpus_part(brain) -> tuple[int, int]:
    from harness.corpus import CORPUS

    answered = 0
    with brain.eye(max_size=None) as eye:
        eye.wait_ready(60)
        for _, message, words in CORPUS:
            eye.send(message)
            try:
                eye.wait_for(lambda o: o["kind"] == "error" and words in o["text"], 30)
                answered += 1
            except TimeoutError:
                pass
    return answered, len(CORPUS)


class Load:
    """Eyes sending snapshots and noting when labels come."""

    def __init__(self, brain, eyes: int, fps: float, hello: bool = False):
        self.frame, self.hello = photo(640, 427), hello
        self.labels: list[float] = []
        self.closed: list[tuple[int, str]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._eye, args=(brain.ws_url, fps), daemon=True) for _ in range(eyes)]
        for thread in self.threads:
            thread.start()

    def _eye(self, url: str, fps: float) -> None:
        try:
            with connect(url, max_size=None) as ws:

                def read():
                    try:
                        for raw in ws:
                            if json.loads(raw)["kind"] == "label":
                                self.labels.append(time.monotonic())
                    except ConnectionClosed as closed:
                        self.closed.append((closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (0, ""))

                threading.Thread(target=read, daemon=True).start()
                if self.hello:  # (a text starts its echo, as its snapshots start the frame cortexes)
                    ws.send("hello")
                while not self.stop.wait(1 / fps):
                    ws.send(self.frame)
        except (OSError, ConnectionClosed):
            pass

    def label_after(self, moment: float, timeout: float) -> float | None:
        if wait_until(lambda: any(t > moment for t in self.labels), timeout, 0.05):
            return min(t for t in self.labels if t > moment) - moment
        return None


def kill_part(args, tmp: Path) -> list[tuple]:
    rows = []
    with running_brain(default_config(tmp), tmp) as brain:
        load = Load(brain, args.eyes, args.fps, hello=True)  # (every kind of RESTARTED runs)
        load.label_after(time.monotonic(), 120)
        wait_until(lambda: brain.named("Echo"), 30)
        for kind in RESTARTED:
            victims = brain.named(kind)
            if not victims:
                rows.append((kind, 0, "not found", ""))
                continue
            killed_at = time.monotonic()
            for victim in victims:
                os.kill(victim.pid, signal.SIGKILL)
            back = load.label_after(killed_at + 0.2, 60)
            rows.append(
                (
                    kind,
                    len(victims),
                    "labels again" if back is not None else "no label in 60 s",
                    f"{back:.1f}" if back is not None else "",
                    "up" if brain.proc.poll() is None else "DOWN",
                )
            )
        load.stop.set()
    for kind in CORE:
        with running_brain(default_config(tmp), tmp) as brain:
            load = Load(brain, args.eyes, args.fps)
            load.label_after(time.monotonic(), 120)
            (victim,) = brain.named(kind)
            killed_at = time.monotonic()
            os.kill(victim.pid, signal.SIGKILL)
            try:
                brain.proc.wait(30)
                took = f"{time.monotonic() - killed_at:.1f}"
            except Exception:  # noqa: BLE001
                took = "did not exit"
            wait_until(lambda: len(load.closed) >= args.eyes, 5)
            told = load.closed[0] if load.closed else (0, "")
            rows.append(
                (
                    kind,
                    1,
                    f"brain exit {brain.proc.returncode} after {took} s",
                    f"eyes told {told[0]} {told[1]!r}",
                    f"left: {len(brain.processes())}",
                )
            )
            load.stop.set()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eyes", type=int, default=4)
    parser.add_argument("--fps", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with running_brain(default_config(tmp), tmp) as brain:
            # The models loaded (the brain's state: an eye is told of them only by its cortexes,
            # which start at its first picture).
            assert wait_until(lambda: every_model_ready(brain), 180), "the models did not load in 180 s"
            network = network_part(brain)
            corpus = corpus_part(brain)
            alive = brain.proc.poll() is None
        print("\n1. Network and protocol (default brain)\n")
        print("| probe | outcome | brain answers after |")
        print("|---|---|---|")
        for probe, outcome, after in network:
            print(f"| {probe} | {outcome} | {'yes' if after else 'NO'} |")
        print(
            f"\n2. Bad-input corpus: {corpus[0]} of {corpus[1]} answered with the expected error; "
            f"brain {'up' if alive else 'DOWN'} afterwards"
        )
        kills = kill_part(args, tmp)
    print(f"\n3. SIGKILL under load ({args.eyes} eyes × {args.fps:g} snapshots/s, default topology)\n")
    print("| actor | processes killed | outcome | labels again after s / eyes told | brain |")
    print("|---|---:|---|---|---|")
    for row in kills:
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
