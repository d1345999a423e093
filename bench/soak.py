"""Soak: many eyes sending snapshots for minutes (not CI). Prints process count, RSS
and PSS over time, error outputs and dropped frames.

    .venv/bin/python -m bench.soak --eyes 50 --minutes 10 --fps 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import psutil
from websockets.asyncio.client import connect

from bench.objects import photo
from harness.brains import running_brain

ROOT = Path(__file__).resolve().parent.parent


def memory(brain) -> tuple[int, float, float]:
    processes = [psutil.Process(brain.proc.pid), *brain.processes()]
    rss = pss = 0
    for proc in processes:
        try:
            info = proc.memory_full_info()
            rss, pss = rss + info.rss, pss + info.pss
        except psutil.Error:
            pass
    return len(processes), rss / 2**20, pss / 2**20


async def eye(url: str, frame: bytes, fps: float, until: float, counts: dict) -> None:
    async with connect(url, max_size=None) as ws:

        async def read():
            async for raw in ws:
                output = json.loads(raw)
                counts[output["kind"]] = counts.get(output["kind"], 0) + 1
                if output["kind"] == "error":
                    counts.setdefault("error_texts", set()).add(output["text"][:90])

        reader = asyncio.create_task(read())
        while time.monotonic() < until:
            await ws.send(frame)
            counts["sent"] = counts.get("sent", 0) + 1
            await asyncio.sleep(1 / fps)
        await asyncio.sleep(2)
        reader.cancel()


async def run(brain, eyes: int, minutes: float, fps: float) -> list[tuple]:
    frame = photo(640, 427)
    counts: dict = {}
    until = time.monotonic() + minutes * 60
    samples = []

    async def sample():
        started = time.monotonic()
        while time.monotonic() < until:
            await asyncio.sleep(15)
            samples.append((round(time.monotonic() - started), *memory(brain)))

    await asyncio.gather(sample(), *(eye(brain.ws_url, frame, fps, until, counts) for _ in range(eyes)))
    return samples, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eyes", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--fps", type=float, default=1.0)
    args = parser.parse_args()
    default = (ROOT / "config" / "default.toml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        text = default.replace('"data/faces"', f'"{Path(tmp) / "faces"}"')
        with running_brain(text, Path(tmp)) as brain:
            before = len(brain.processes())
            samples, counts = asyncio.run(run(brain, args.eyes, args.minutes, args.fps))
            time.sleep(5)
            after = len(brain.processes())
    print(f"\nSoak: {args.eyes} eyes × {args.fps:g} snapshot/s for {args.minutes:g} min, default topology\n")
    print("| t (s) | processes | RSS MB | PSS MB |")
    print("|---:|---:|---:|---:|")
    for t, n, rss, pss in samples:
        print(f"| {t} | {n} | {rss:.0f} | {pss:.0f} |")
    loaded = [row for row in samples if row[1] == samples[0][1]]  # while every eye was connected
    if len(loaded) >= 3:
        first, last = loaded[1], loaded[-1]
        pss = [row[3] for row in loaded[1:]]
        print(
            f"\nPSS under load from t={first[0]} s to t={last[0]} s: {(last[3] - first[3]) / first[3]:+.1%} "
            f"(min {min(pss):.0f} MB, max {max(pss):.0f} MB)"
        )
    print(f"actor processes before the eyes: {before}, after they left: {after}")
    print("outputs:", {k: v for k, v in counts.items() if k != "error_texts"})
    for text in sorted(counts.get("error_texts", ())):
        print("  error:", text)


if __name__ == "__main__":
    main()
