"""The downloads probe (review of issue 22, item 8), repeatable (not CI): how long a file
may take, how many one client may hold, and how long an opening may take, against a brain
with the default [server] settings (an echo cortex: no model is loaded).

    .venv/bin/python -m bench.probe_downloads [--slow-s 12] [--held 12]

1. a client that reads the 4.65 MB pose model at 100 kB/s for `--slow-s` seconds (past the
   10 s opening timeout), then at full speed: whole or cut;
2. `--held` downloads of it from one address (127.0.0.2) never read, then the page from
   another (127.0.0.1) and the model from a third (127.0.0.3); the kernel's TCP memory
   and the gateway's PSS while they are held;
3. half a websocket handshake (the request's last line never comes): when it is closed.
After each, whether a new eye still gets its echo. Bounded: about 40 s. Loopback only.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

import psutil

from brain.http_routes import MODELS_DIR
from harness.brains import running_brain
from harness.eyes import Eye
from harness.report import table

ECHO = '[[cortex]]\nname = "echo"\ntype = "echo"\nsubscribes = ["text"]\n'
MODEL = "movenet-lightning.bin"


def request(port: int, address: str, path: str = f"/models/{MODEL}") -> socket.socket:
    """A GET from `address` (a loopback alias is another client), a tiny receive buffer."""
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.settimeout(20)
    peer.bind((address, 0))
    peer.connect(("127.0.0.1", port))
    peer.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return peer


def read_all(peer: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := peer.recv(1 << 20):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def answers(brain) -> bool:
    try:
        with Eye(brain.ws_url) as eye:
            eye.wait_ready(30)
            return eye.ask("still there?", 10)["text"] == "still there?"
    except Exception:  # (a probe reports what happened, whatever it was)
        return False


def tcp_memory() -> int:
    """The kernel's TCP buffers, machine-wide (other programs' too: read it as a rough figure)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * 4096
    return 0


def slow_part(brain, slow_s: float) -> tuple[str, str, bool]:
    size = (MODELS_DIR / MODEL).stat().st_size
    peer, started, received = request(brain.port, "127.0.0.1"), time.monotonic(), b""
    try:
        while time.monotonic() - started < slow_s:
            chunk = peer.recv(10_000)
            if not chunk:
                break
            received += chunk
            time.sleep(0.1)  # (the slow reader itself: 100 kB/s)
        received += read_all(peer)
    except (ConnectionResetError, TimeoutError):
        pass
    peer.close()
    body = received.split(b"\r\n\r\n", 1)[-1]
    took = time.monotonic() - started
    said = "whole" if body == (MODELS_DIR / MODEL).read_bytes() else f"CUT: {len(body):,} of {size:,} bytes"
    return (f"the model read at 100 kB/s for {slow_s:g} s, then the rest", f"{said}, in {took:.1f} s", answers(brain))


def held_part(brain, count: int) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
    gateway = psutil.Process(brain.proc.pid)
    memory, pss = tcp_memory(), gateway.memory_full_info().pss
    held = [request(brain.port, "127.0.0.2") for _ in range(count)]
    try:
        statuses = [peer.recv(12)[9:12].decode() or "closed" for peer in held]
        counted = ", ".join(f"{statuses.count(s)} × {s}" for s in sorted(set(statuses)))
        refused = next((p for p, s in zip(held, statuses) if s == "503"), None)
        said = read_all(refused).split(b"\r\n\r\n", 1)[-1].decode().strip() if refused else ""
        figures = [
            (f"kernel TCP memory, {statuses.count('200')} held", f"+{(tcp_memory() - memory) / 2**20:.0f} MB"),
            ("gateway PSS", f"+{(gateway.memory_full_info().pss - pss) / 2**20:.1f} MB"),
        ]
        page = request(brain.port, "127.0.0.1", "/")
        page_status = page.recv(12)[9:12].decode() or "closed"
        page.close()
        other = request(brain.port, "127.0.0.3")
        other_status = other.recv(12)[9:12].decode() or "closed"
        other.close()
        rows = [
            (f"{count} GETs of the model from 127.0.0.2, never read", f"{counted}; {said[:140]}", answers(brain)),
            ("meanwhile, the page from 127.0.0.1; the model from 127.0.0.3", f"{page_status}; {other_status}", True),
        ]
    finally:
        for peer in held:
            peer.close()
    return rows, figures


def half_handshake_part(brain) -> tuple[str, str, bool]:
    peer = socket.create_connection(("127.0.0.1", brain.port), timeout=20)
    peer.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{brain.port}\r\nUpgrade: websocket\r\n".encode())
    started = time.monotonic()
    read_all(peer)
    took = time.monotonic() - started
    peer.close()
    said = f"closed after {took:.1f} s" if took < 19 else "still open after 20 s"
    return ("half a websocket handshake, never finished", said, answers(brain))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow-s", type=float, default=12.0)
    parser.add_argument("--held", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with running_brain(ECHO, Path(tmp)) as brain:
            rows = [slow_part(brain, args.slow_s)]
            more, figures = held_part(brain, args.held)
            rows += more
            rows.append(half_handshake_part(brain))
    table(("tried", "what happened", "brain answered after"), rows)
    table(("while held", "grew"), figures)


if __name__ == "__main__":
    main()
