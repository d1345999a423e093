"""A slow eye (not CI): it sends big texts that the echo cortex returns and never reads
them. Prints the brain's PSS before, while it sends, and after it left, and how the
brain ended the connection.

    .venv/bin/python -m bench.slow_eye --mb 1.9 --messages 300 --rounds 2
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

import psutil

from harness.brains import running_brain
from harness.waits import wait_until

ECHO = """
[server]
max_message_bytes = 2_000_000
max_messages_per_s = 1000.0

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]
"""


def gateway_pss_mb(brain) -> float:
    return psutil.Process(brain.proc.pid).memory_full_info().pss / 2**20


def slow_eye(brain, text: str, messages: int, minutes: float) -> str:
    """Send `messages` texts without reading; return how the connection ended."""
    from websockets.sync.client import connect

    ws = connect(brain.ws_url, max_size=None, ping_interval=None)
    # Read nothing, and keep the kernel from reading ahead for us.
    ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ended = "still open"
    deadline = time.monotonic() + minutes * 60
    try:
        for _ in range(messages):
            ws.send(text)
            if time.monotonic() > deadline:
                break
        ended = "still open after sending"
        wait_until(lambda: not brain.eyes_connected(), minutes * 60, 0.5)
        ended = "closed by the brain" if not brain.eyes_connected() else "still open at the deadline"
    except Exception as exc:  # noqa: BLE001 — what ended it is what we report
        ended = f"closed by the brain ({type(exc).__name__})"
    finally:
        ws.socket.close()
    return ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.9)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=2.0, help="per round, at most")
    parser.add_argument("--env", nargs="*", default=[], help="NAME=VALUE for the brain (e.g. malloc settings)")
    args = parser.parse_args()
    text = "x" * int(args.mb * 1_000_000)
    env = dict(e.split("=", 1) for e in args.env)
    with running_brain(ECHO, Path(tempfile.mkdtemp()), env=env) as brain:
        import json
        import urllib.request

        def eyes_connected() -> int:
            return json.loads(urllib.request.urlopen(brain.url + "/health").read())["eyes"]

        brain.eyes_connected = eyes_connected
        print("| round | gateway PSS before MB | peak MB | after the eye left MB | how it ended | s |")
        print("|---:|---:|---:|---:|---|---:|")
        for round_ in range(1, args.rounds + 1):
            before = gateway_pss_mb(brain)
            peak = [before]
            started = time.monotonic()
            import threading

            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.2):
                    peak.append(gateway_pss_mb(brain))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            ended = slow_eye(brain, text, args.messages, args.minutes)
            took = time.monotonic() - started
            wait_until(lambda: eyes_connected() == 0, 30)
            time.sleep(2)
            stop.set()
            sampler.join()
            after = gateway_pss_mb(brain)
            print(f"| {round_} | {before:.0f} | {max(peak):.0f} | {after:.0f} | {ended} | {took:.0f} |", flush=True)


if __name__ == "__main__":
    main()
