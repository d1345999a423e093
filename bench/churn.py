"""Churn: connect/disconnect cycles with abrupt TCP resets; counts leaked processes (not CI).

.venv/bin/python -m bench.churn --cycles 500
"""

from __future__ import annotations

import argparse
import socket
import struct
import tempfile
import time
from pathlib import Path

from harness.brains import running_brain
from harness.configs import ECHO_TICKER, at_connect
from harness.waits import wait_until


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=500)
    args = parser.parse_args()
    # Both cortexes of an eye start with it (start = "connect"; echo would wait for a text):
    # each cycle starts and ends them, cut short or not.
    with tempfile.TemporaryDirectory() as tmp, running_brain(at_connect(ECHO_TICKER), Path(tmp)) as brain:
        baseline = len(brain.processes())
        started = time.monotonic()
        for cycle in range(args.cycles):
            eye = brain.eye()
            if cycle % 2:
                eye.wait_ready()
            if cycle % 3 == 0:
                eye.close()
            else:
                eye.ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                eye.ws.socket.close()
        elapsed = time.monotonic() - started
        settled = wait_until(lambda: len(brain.processes()) == baseline, 60)
        leaked = len(brain.processes()) - baseline
    print(
        f"\nChurn: {args.cycles} connect/disconnect cycles (2/3 by TCP reset, half before the session was "
        f"ready) in {elapsed:.0f} s: {leaked} leaked processes (baseline {baseline}, settled: {settled})."
    )


if __name__ == "__main__":
    main()
