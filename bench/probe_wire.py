"""The wire probe (issue 22, items 3, 4, 8 and 11), repeatable (not CI): what crosses the
eye's websocket and HTTP. Against the default brain (real models), with an eye token and
an events token set, it tries each finding of the outside probe and says what happened
and whether the brain still answered; then the memory the gateway and the brain spent.

    .venv/bin/python -m bench.probe_wire [--downloads 200] [--pngs 5]

1. an event with a lone surrogate (POST /events), and a message whose key is one;
2. a 400-digit integer in a privacy-mode pose;
3. a 5,000-character URL; /metrics and /health without the eye token;
4. `--downloads` GETs of /models/movenet-lightning.bin never read: the gateway's RSS and PSS;
5. `--pngs` 6000×6000 PNGs (~105 KB each), then as many at 4096×4096: the brain's total PSS.
Bounded: about a minute. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import psutil
from websockets.exceptions import ConnectionClosed

from harness.brains import running_brain
from harness.configs import default_config
from harness.eyes import Eye, every_model_ready
from harness.pictures import ASTRONAUT, frame
from harness.report import table
from harness.waits import wait_until

EYE_TOKEN, EVENTS_TOKEN = "probe-eye", "probe-events"
MODEL = "/models/movenet-lightning.bin"


def png(width: int, height: int) -> bytes:
    """A real black PNG of width × height (it compresses ~1000:1: 6000² is ~105 KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze, row = zlib.compressobj(9), b"\x00" * (3 * width + 1)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.status)
    except urllib.error.HTTPError as refused:
        return f"{refused.code} {refused.read().decode(errors='replace').strip()[:90]}".replace("\n", " ")


def eye(brain) -> Eye:
    return Eye(f"{brain.ws_url}?token={EYE_TOKEN}", max_size=None)


def answers(brain) -> bool:
    try:
        with eye(brain) as fresh:
            fresh.wait_ready(60)
            return fresh.ask("still there?", 30)["text"] == "still there?"
    except (OSError, TimeoutError, ConnectionClosed):
        return False


def outcome(watcher: Eye, timeout: float = 10) -> str:
    """The next error or event the eye gets, or how it was closed."""
    try:
        output = watcher.wait_for(lambda o: o["kind"] in ("error", "event"), timeout)
        return f"{output['kind']}: {output['text'][:90]}"
    except ConnectionClosed as closed:
        return f"eye CLOSED {closed.rcvd.code if closed.rcvd else 1006}"
    except TimeoutError:
        return f"nothing in {timeout:g} s"


def input_part(brain) -> list[tuple[str, str, bool]]:
    rows = []
    with eye(brain) as a, eye(brain) as b:
        a.wait_ready(60)
        b.wait_ready(60)
        request = urllib.request.Request(
            f"http://127.0.0.1:{brain.events_port}/events",
            data=b'{"text": "door \\ud800", "to": "all"}',
            headers={"Authorization": f"Bearer {EVENTS_TOKEN}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                said = f"{response.status} {response.read().decode()}"
        except urllib.error.HTTPError as refused:
            said = f"{refused.code} {json.load(refused)['error'][:70]}"
        eyes = [outcome(x, 3) for x in (a, b)]
        rows.append(("POST /events with a lone surrogate", f"{said}; eyes: {', '.join(eyes)}", answers(brain)))
    with eye(brain) as one:
        one.wait_ready(60)
        one.send('{"\\ud800": 1}')
        rows.append(("a message whose key is a lone surrogate", outcome(one), answers(brain)))
    with eye(brain) as one:
        one.wait_ready(60)
        points = "[[" + "9" * 400 + ", 1, 1]" + ", [1, 1, 1]" * 16 + "]"
        one.send('{"pose": {"width": 640, "height": 480, "people": [{"keypoints": ' + points + "}]}}")
        rows.append(("a 400-digit keypoint (privacy-mode pose)", outcome(one), answers(brain)))
    rows.append(("GET a 5,000-character path", get(brain.url + "/" + "a" * 5000), answers(brain)))
    rows.append(("GET /metrics without the eye token", get(brain.url + "/metrics"), answers(brain)))
    rows.append(("GET /health without the eye token", get(brain.url + "/health"), answers(brain)))
    return rows


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def downloads_part(brain, count: int) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str, str]]]:
    gateway = psutil.Process(brain.proc.pid)

    def memory() -> tuple[int, int]:
        info = gateway.memory_full_info()
        return info.rss, info.pss

    before = memory()
    peers, peak = [], before
    for _ in range(count):
        peer = socket.socket()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel reads little for it
        peer.connect(("127.0.0.1", brain.port))
        peer.sendall(f"GET {MODEL} HTTP/1.1\r\nHost: 127.0.0.1:{brain.port}\r\n\r\n".encode())
        peers.append(peer)
    deadline = time.monotonic() + 3  # websockets gives a response 10 s: look while they are held
    while time.monotonic() < deadline:
        peak = max(peak, memory())
        time.sleep(0.1)
    statuses = []
    for peer in peers:
        peer.settimeout(5)
        try:
            statuses.append(peer.recv(12)[9:12].decode() or "closed")
        except OSError as exc:
            statuses.append(type(exc).__name__)
    held = memory()
    for peer in peers:
        peer.close()
    wait_until(lambda: memory()[1] - before[1] < 8 << 20, 10)
    after = memory()
    counted = ", ".join(f"{statuses.count(s)} × {s}" for s in sorted(set(statuses)))
    rows = [(f"{count} GETs of {MODEL}, never read", counted, answers(brain))]
    figures = [
        ("gateway RSS MB", f"{mb(before[0])} → {mb(max(peak[0], held[0]))}", mb(after[0])),
        ("gateway PSS MB", f"{mb(before[1])} → {mb(max(peak[1], held[1]))}", mb(after[1])),
    ]
    return rows, figures


def brain_pss(brain) -> int:
    total = 0
    for proc in [psutil.Process(brain.proc.pid), *brain.processes()]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def pngs_part(brain, count: int) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str, str]]]:
    rows, figures = [], []
    for side in (6000, 4096):
        picture = png(side, side)
        assert wait_until(lambda: every_model_ready(brain, EYE_TOKEN), 180), "the models did not load in 180 s"
        with eye(brain) as one:
            one.wait_ready(60)
            # A first picture starts the eye's frame cortexes (at connect, before): PSS from then.
            one.send(frame(ASTRONAUT))
            for name in ("objects", "faces", "pose"):
                one.seen_or_wait(lambda o, name=name: o["data"].get("started") == name, 120)
            one.seen_or_wait(lambda o: o["kind"] == "label" and o["cortex"] == "objects", 60)
            time.sleep(1.0)  # (the other frame cortexes finish that frame meanwhile)
            before, peak, sampling = brain_pss(brain), [0], [True]

            def sample() -> None:
                while sampling[0]:
                    peak[0] = max(peak[0], brain_pss(brain))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            for _ in range(count):
                one.send(picture)
            said = []
            try:
                while len(said) < count:
                    said.append(
                        one.wait_for(
                            lambda o: o["kind"] in ("label", "error") and o["cortex"] in ("objects", "brain"), 30
                        )
                    )
            except (TimeoutError, ConnectionClosed):
                pass
            time.sleep(1.0)  # the other frame cortexes finish their frame meanwhile
            sampling[0] = False
            sampler.join()
        kinds = sorted({f"{o['cortex']} {o['kind']}: {o['text'][:60]}" for o in said})
        rows.append((f"{count} PNGs of {side}×{side} ({len(picture) / 1000:.0f} KB)", "; ".join(kinds), answers(brain)))
        figures.append((f"brain PSS MB, {side}² PNGs", f"{mb(before)} → {mb(peak[0])}", mb(brain_pss(brain))))
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--pngs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"CORTICAL_EYE_TOKEN": EYE_TOKEN, "CORTICAL_EVENTS_TOKEN": EVENTS_TOKEN}
        with running_brain(default_config(Path(tmp) / "faces"), Path(tmp), env=env) as brain:
            rows = input_part(brain)
            more, figures = downloads_part(brain, args.downloads)
            rows += more
            more, shown = pngs_part(brain, args.pngs)
            rows += more
            figures += shown
    table(("tried", "what happened", "brain answered after"), rows)
    table(("memory", "before → peak", "after"), figures)


if __name__ == "__main__":
    main()
