"""Echo path benchmark: eye → Session → Cortex → eye, beside a bare websockets echo server.

Run with `make bench`. Both servers run in their own process; the clients are asyncio
websockets connections in this process, each doing round trips one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from harness.brains import Brain, free_port
from harness.configs import write_config

BARE_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1])):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""

# Each eye sends as fast as replies come: lift the per-eye rate cap, or it would be measured.
CONFIG = '[server]\nmax_messages_per_s = 1000000.0\n\n[[cortex]]\nname = "echo"\ntype = "echo"\nsubscribes = ["text"]\n'


async def _eye(url: str, seconds: float, brain: bool, latencies: list[float]) -> None:
    async with connect(url) as ws:
        if brain:  # wait for "The brain is ready."
            while '"ready": true' not in await ws.recv():
                pass
            # One untimed round trip: the eye's echo cortex starts at its first text (and says
            # so in a status before the echo), not at connect.
            await ws.send("ping")
            while json.loads(await ws.recv())["kind"] != "echo":
                pass
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await ws.send("ping")
            await ws.recv()
            latencies.append(time.perf_counter() - start)


async def _measure(url: str, eyes: int, seconds: float, brain: bool) -> dict:
    latencies: list[float] = []
    await asyncio.gather(*(_eye(url, 0.5, brain, []) for _ in range(eyes)))  # warm up
    started = time.perf_counter()
    await asyncio.gather(*(_eye(url, seconds, brain, latencies) for _ in range(eyes)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50": cuts[49] * 1000, "p99": cuts[98] * 1000, "rate": len(latencies) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.PIPE, text=True)
        brain = Brain(write_config(Path(tmp) / "echo.toml", CONFIG), Path(tmp))
        try:
            assert bare.stdout.readline().strip() == "ready"
            for eyes in (1, 20):
                results[("bare", eyes)] = asyncio.run(_measure(f"ws://127.0.0.1:{port}", eyes, args.seconds, False))
                results[("brain", eyes)] = asyncio.run(_measure(brain.ws_url, eyes, args.seconds, True))
        finally:
            bare.terminate()
            brain.stop()
    print(
        f"\nEcho round trip, {args.seconds:.0f} s per row, {os.cpu_count()} cores "
        "(ratio = brain / bare websockets echo, same run)\n"
    )
    print("| eyes | server | p50 ms | p99 ms | msgs/s | p50 ratio | msgs/s ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for eyes in (1, 20):
        bare_row, brain_row = results[("bare", eyes)], results[("brain", eyes)]
        for name, row in (("bare websockets", bare_row), ("brain (Session+Cortex)", brain_row)):
            ratio_p50 = row["p50"] / bare_row["p50"]
            ratio_rate = row["rate"] / bare_row["rate"]
            print(
                f"| {eyes} | {name} | {row['p50']:.2f} | {row['p99']:.2f} | {row['rate']:.0f} | "
                f"{ratio_p50:.1f}× | {ratio_rate:.2f}× |"
            )


if __name__ == "__main__":
    main()
