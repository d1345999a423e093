"""The actor-network probe (issue 22, items 1, 2 and 7), repeatable (not CI): what a local
stranger can do through thespian's log file and its TCP ports, and what a SIGKILLed brain
leaves behind. Against the echo brain; each row says what was tried, what happened, and
whether the brain still answered an eye.

    .venv/bin/python -m bench.probe_actor_network

1. a planted symlink `$TMPDIR/thespian.log -> victim`, then junk that makes thespian log:
   how much the victim grew, and where (with which modes) thespian's log went;
2. 3 MB with no `>` to the echo cortex's actor port: what it took in before the cut, and
   the median echo meanwhile; a header that is not a number;
3. ten connections each sending 14 MB of an announced 15 MB to the admin: the admin's RSS;
4. SIGKILL of `brain join`, then of `brain serve`: how long their actor processes
   outlive them, and whether a brain starts again on the same admin port.
Bounded: about two minutes. Loopback only.
"""

from __future__ import annotations

import secrets
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from harness.brains import Brain, Member, running_brain
from harness.configs import ECHO_TICKER, write_config
from harness.report import table
from harness.waits import wait_until

MB = 1 << 20


def answers(brain) -> str:
    try:
        with brain.eye() as eye:
            eye.wait_ready(30)
            return "yes" if eye.ask("still there?", 30)["text"] == "still there?" else "no"
    except Exception as exc:  # (any failure to answer is the finding)
        return f"no ({type(exc).__name__})"


def echo_ms(eye, count: int = 20) -> float:
    times = []
    for n in range(count):
        start = time.perf_counter()
        eye.ask(f"echo {n}", 30)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def stream(port: int, header: bytes, total: int, hold_s: float = 0.0, timeout: float = 20) -> tuple[int, str]:
    """Send header + total bytes in 64 KB pieces, then wait hold_s and look whether the
    other end closed; (bytes the kernel took, "cut" or how it ended)."""
    sent = 0
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as peer:
            peer.sendall(header)
            while sent < total:
                if time.monotonic() > deadline:
                    return sent, f"still reading after {timeout:.0f} s"
                sent += peer.send(b"a" * min(64 << 10, total - sent))
            time.sleep(hold_s)
            peer.settimeout(2)
            return sent, "cut" if peer.recv(1 << 16) == b"" else "answered"
    except (BrokenPipeError, ConnectionResetError):
        return sent, "cut"
    except TimeoutError:
        return sent, "left open"


def symlink_part(tmp: Path) -> list[tuple[str, str, str]]:
    victim = tmp / "victim"
    victim.write_text("precious\n")
    (tmp / "thespian.log").symlink_to(victim)
    before = victim.stat().st_size
    with running_brain(ECHO_TICKER, tmp, env={"TMPDIR": str(tmp), "THESPLOG_FILE": None}) as brain:
        for junk in (b"not a size>", b"20>" + b"\x80\x04\x95" + b"\0" * 17):
            stream(brain.admin_port, junk, 0)
        wait_until(lambda: victim.stat().st_size > before, 3)
        alive = answers(brain)
    logs = sorted(p for p in tmp.rglob("thespian*") if p.is_file() and not p.is_symlink())
    where = ", ".join(f"{p.relative_to(tmp)} {oct(p.stat().st_mode & 0o777)}" for p in logs) or "nowhere"
    dirs = ", ".join(f"{p.name}/ {oct(p.stat().st_mode & 0o777)}" for p in tmp.glob("cortical-*") if p.is_dir())
    return [
        ("planted $TMPDIR/thespian.log -> victim, junk sent", f"victim grew {victim.stat().st_size - before} B", alive),
        ("where thespian logged", f"{where}; {dirs or 'no private directory'}", ""),
    ]


def stream_part(brain) -> list[tuple[str, str, str]]:
    rows = []
    with brain.eye() as eye:
        eye.wait_ready(30)
        quiet = echo_ms(eye)
        (echo,) = brain.named("Echo")
        port = int(echo.cmdline()[0].rsplit(":", 1)[1].rstrip(")"))
        cpu, since = echo.cpu_times(), time.monotonic()
        sent, ended = stream(port, b"", 3 * MB, hold_s=5)
        time.sleep(max(0.0, 5 - (time.monotonic() - since)))  # (at least 5 s, cut or not)
        cpu_s, wall_s = sum(echo.cpu_times()[:2]) - sum(cpu[:2]), time.monotonic() - since
        busy = echo_ms(eye)
        rows.append(
            (
                "3 MB without '>' to the echo cortex",
                f"{ended} ({sent:,} B sent); its CPU {cpu_s:.1f} s in {wall_s:.0f} s; echo median {quiet:.1f} -> {busy:.1f} ms",
                answers(brain),
            )
        )
    sent, ended = stream(brain.admin_port, b" 12_3>", 1000)
    rows.append(("header ' 12_3>' to the admin", f"{ended} ({sent:,} B sent)", answers(brain)))
    return rows


def announced_part(brain) -> list[tuple[str, str, str]]:
    (admin,) = brain.named("MultiProcAdmin")
    before = admin.memory_info().rss
    peak = [before]
    done = threading.Event()

    def watch():
        while not done.wait(0.1):
            peak.append(admin.memory_info().rss)

    watcher = threading.Thread(target=watch)
    watcher.start()
    results: list = []
    streams = [
        threading.Thread(target=lambda: results.append(stream(brain.admin_port, b"%d>" % (15 * MB), 14 * MB, 3)))
        for _ in range(10)
    ]
    for thread in streams:
        thread.start()
    for thread in streams:
        thread.join()
    done.set()
    watcher.join()
    cut = sum(ended == "cut" for _, ended in results)
    taken = sum(sent for sent, _ in results)
    return [
        (
            "10 × 14 MB of an announced 15 MB to the admin",
            f"{taken / MB:.0f} MB sent, {cut} cut; admin RSS {before / MB:.0f} -> peak {max(peak) / MB:.0f} MB",
            answers(brain),
        )
    ]


def ended_after(system) -> str:
    """SIGKILL `brain serve` or `brain join` alone; how long its actor processes outlive it."""
    started = len(system.processes())
    system.proc.kill()
    killed = time.monotonic()
    if wait_until(lambda: not system.processes(), 30, 0.05):
        return f"{started} actor processes; none left after {time.monotonic() - killed:.1f} s"
    return f"{started} actor processes; {len(system.processes())} left after 30 s"


def kill_part(tmp: Path) -> list[tuple[str, str, str]]:
    config = write_config(tmp / "brain.toml", ECHO_TICKER + '\n[actors]\nallowed_peers = ["127.0.0.2"]\n')
    secret = {"CORTICAL_ACTOR_SECRET": secrets.token_hex(32)}
    brain = Brain(config, tmp, env=secret)
    rows = []
    try:
        member = Member(brain, "127.0.0.2", "gpu", tmp, secret)
        rows.append(("SIGKILL brain join", ended_after(member), answers(brain)))
        member.stop()
        with brain.eye() as eye:
            eye.wait_ready(30)
            rows.append(("SIGKILL brain serve", ended_after(brain), ""))
    finally:
        brain.stop()
    try:
        again = Brain(config, tmp, admin_port=brain.admin_port, env=secret)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        said = next((line for line in lines if "admin port" in line), lines[-1])
        rows.append(("start again on the same admin port", f"refused: {said[:80]}…", "no"))
    else:
        try:
            rows.append(("start again on the same admin port", "started", answers(again)))
        finally:
            again.stop()
            again.kill_leftovers()
    brain.kill_leftovers()
    return rows


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        parts = {name: Path(tmp) / name for name in ("symlink", "network", "kill")}
        for path in parts.values():
            path.mkdir()
        rows += symlink_part(parts["symlink"])
        with running_brain(ECHO_TICKER, parts["network"]) as brain:
            rows += stream_part(brain)
            rows += announced_part(brain)
        rows += kill_part(parts["kill"])
    table(("tried", "what happened", "answers after"), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
