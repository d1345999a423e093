"""Object recognition benchmark (P1, P2, P3 of issue 3), all in one run.

P1  one eye: websocket round trip frame → label, vs the bare pipeline (decode +
    preprocess + infer + decode) on the same JPEG in this process.
P2  16 eyes in closed loop: frames/s, vs the bare pipeline at batch 16 and vs the
    brain serving without batching ([holder] max_batch = 1).
P3  total PSS of all brain processes with 1, 10 and 20 eyes on the default topology.

The bare pipeline is measured in the same run: beside each brain round trip in P1, and
before and after the brain's closed loop in P2.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import skimage.data
from PIL import Image
from websockets.asyncio.client import connect

from actors.imaging import decode_for_model
from actors.models import nanodet
from harness.brains import running_brain
from harness.configs import at_connect
from harness.eyes import ready_models
from harness.waits import wait_until

ROOT = Path(__file__).resolve().parent.parent

# Eyes here send their next frame as soon as the label comes: lift the per-eye frame cap.
DEFAULT = (
    (ROOT / "config" / "default.toml")
    .read_text()
    .replace("max_message_bytes = 2_000_000", "max_message_bytes = 2_000_000\nmax_frames_per_s = 1000.0")
)
# P1 and P2 measure the object path alone: the default topology without its faces cortex.
OBJECTS = DEFAULT[: DEFAULT.index('[[cortex]]\nname = "faces"')]
UNBATCHED = OBJECTS.replace("max_batch = 4", "max_batch = 1")
assert UNBATCHED != OBJECTS
SIZE = (nanodet.INPUT_SIZE, nanodet.INPUT_SIZE)


def photo(width: int, height: int) -> bytes:
    image = Image.fromarray(skimage.data.coffee()).resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Bare:
    """The same pipeline as the brain, in one process, no actors, no sockets."""

    def __init__(self):
        from actors.models.litert import LiteModel

        self.model = LiteModel(ROOT / "models" / "nanodet.tflite")  # as the holder runs it

    def once(self, frames: list[bytes]) -> float:
        started = time.perf_counter()
        pixels = np.stack([decode_for_model(f, SIZE, 40_000_000)[0] for f in frames])
        outputs = self.model(nanodet.preprocess(pixels))
        for i in range(len(frames)):
            nanodet.decode([o[i] for o in outputs], 0.35)
        return time.perf_counter() - started

    def median(self, frames: list[bytes], repeats: int) -> float:
        self.once(frames)
        return statistics.median(self.once(frames) for _ in range(repeats))

    def stages(self, frame: bytes, repeats: int = 20) -> dict[str, float]:
        timings = {"decode+resize": [], "preprocess": [], "infer": [], "post": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            pixels = decode_for_model(frame, SIZE, 40_000_000)[0][None]
            t1 = time.perf_counter()
            batch = nanodet.preprocess(pixels)
            t2 = time.perf_counter()
            outputs = self.model(batch)
            t3 = time.perf_counter()
            nanodet.decode([o[0] for o in outputs], 0.35)
            t4 = time.perf_counter()
            for key, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                timings[key].append(value)
        return {k: statistics.median(v) * 1000 for k, v in timings.items()}


def loaded(brain) -> None:
    """Until the objects model is loaded (the brain's state: an eye's cortexes start at its
    first picture, and only then tell it of their models). Each eye then sends a frame or
    more before it is timed, which starts them."""
    assert wait_until(lambda: "objects" in ready_models(brain), 180), "the objects model did not load in 180 s"


async def _ready(url: str):
    """An eye, once its Session is ready (see loaded: the models are loaded before)."""
    ws = await connect(url, max_size=None)
    while True:
        message = json.loads(await ws.recv())
        if message["kind"] == "status" and message["data"].get("ready"):
            return ws


async def _label(ws) -> dict:
    while True:
        message = json.loads(await ws.recv())
        if message["kind"] in ("label", "error") and message["cortex"] == "objects":
            return message


async def round_trips(url: str, frame: bytes, count: int) -> float:
    """Median brain round trip."""
    return (await paired_round_trips(url, frame, count, None))[1]


async def paired_round_trips(url: str, frame: bytes, count: int, bare: Bare | None) -> tuple[float | None, float]:
    """Median (bare pipeline, brain round trip): one of each in turn, so that both meet the
    same machine (this VM's speed drifts by 10-20 % from minute to minute)."""
    ws = await _ready(url)
    try:
        for _ in range(3):
            await ws.send(frame)
            await _label(ws)
        bare_times, times = [], []
        for _ in range(count):
            if bare is not None:
                bare_times.append(bare.once([frame]))
            started = time.perf_counter()
            await ws.send(frame)
            await _label(ws)
            times.append(time.perf_counter() - started)
        return (statistics.median(bare_times) if bare_times else None), statistics.median(times)
    finally:
        await ws.close()


async def closed_loop(url: str, frame: bytes, eyes: int, seconds: float) -> tuple[float, float]:
    sockets = [await _ready(url) for _ in range(eyes)]
    done, batches = [], []

    async def eye(ws, deadline):
        while time.perf_counter() < deadline:
            await ws.send(frame)
            output = await _label(ws)
            done.append(1)
            batches.append(output["data"].get("batch", 0))

    try:
        await asyncio.gather(*(eye(ws, time.perf_counter() + 2) for ws in sockets))  # warm up
        done.clear()
        batches.clear()
        started = time.perf_counter()
        await asyncio.gather(*(eye(ws, started + seconds) for ws in sockets))
        return len(done) / (time.perf_counter() - started), statistics.mean(batches)
    finally:
        for ws in sockets:
            await ws.close()


def pss_mb(brain) -> float:
    total = 0
    for proc in [psutil.Process(brain.proc.pid), *brain.processes()]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 2**20


async def memory(brain, frame: bytes, counts=(1, 10, 20)) -> dict[int, float]:
    sockets, result = [], {}
    try:
        for count in counts:
            while len(sockets) < count:
                ws = await _ready(brain.ws_url)
                await ws.send(frame)
                await _label(ws)
                sockets.append(ws)
            await asyncio.sleep(1)
            result[count] = pss_mb(brain)
    finally:
        for ws in sockets:
            await ws.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    large, small = photo(1920, 1280), photo(640, 427)
    bare = Bare()
    stages = {name: bare.stages(frame) for name, frame in (("1920×1280", large), ("640×427", small))}
    bare_before = bare.median([large] * 16, 5)

    with tempfile.TemporaryDirectory() as tmp:
        with running_brain(OBJECTS, Path(tmp)) as brain:
            loaded(brain)
            p1 = {
                name: asyncio.run(paired_round_trips(brain.ws_url, frame, 30, bare))
                for name, frame in (("1920×1280", large), ("640×427", small))
            }
            bare_one = {name: pair[0] for name, pair in p1.items()}
            p1 = {name: pair[1] for name, pair in p1.items()}
            p2, mean_batch = asyncio.run(closed_loop(brain.ws_url, large, 16, args.seconds))
            # The bare batch before and after the brain's run (the brain idle): their mean.
            bare16 = 16 / statistics.mean([bare_before, bare.median([large] * 16, 5)])
            bare1 = 1 / bare_one["1920×1280"]
        del bare
        (Path(tmp) / "default").mkdir()
        # Every cortex of an eye started with it (start = "connect"), as before cortexes
        # started at need: P3 is what an eye with all its cortexes costs.
        default = at_connect(DEFAULT.replace('"data/faces"', f'"{tmp}/faces"'))
        with running_brain(default, Path(tmp) / "default") as brain:
            loaded(brain)
            p3 = asyncio.run(memory(brain, small))
        (Path(tmp) / "u").mkdir()
        with running_brain(UNBATCHED, Path(tmp) / "u") as brain:
            loaded(brain)
            p2_unbatched, _ = asyncio.run(closed_loop(brain.ws_url, large, 16, args.seconds))

    print("\nBare pipeline stages (median ms, batch 1, this process):\n")
    print("| photo | " + " | ".join(next(iter(stages.values()))) + " |")
    print("|---|" + "---:|" * 4)
    for name, row in stages.items():
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in row.values()) + " |")
    print("\nP1 — one eye, frame → label round trip (median of 30, each beside a bare call):\n")
    print("| photo | bare pipeline ms | brain over websocket ms | ratio (goal ≤ 1.15) |")
    print("|---|---:|---:|---:|")
    for name in p1:
        print(f"| {name} | {bare_one[name] * 1000:.1f} | {p1[name] * 1000:.1f} | {p1[name] / bare_one[name]:.2f} |")
    print(f"\nP2 — 16 eyes, closed loop, 1920×1280 JPEG, {args.seconds:.0f} s:\n")
    print("| serving | frames/s | ratio |")
    print("|---|---:|---:|")
    print(f"| bare pipeline, batch 16, serial (mean of before and after) | {bare16:.1f} | 1.00 |")
    print(
        f"| bare pipeline, batch 1, serial (batching's ceiling: {bare16 / bare1:.2f}×) | {bare1:.1f} | "
        f"{bare1 / bare16:.2f} |"
    )
    print(f"| brain, batched (mean batch {mean_batch:.1f}) | {p2:.1f} | {p2 / bare16:.2f} (goal ≥ 1.0) |")
    print(f"| brain, max_batch = 1 | {p2_unbatched:.1f} | {p2_unbatched / bare16:.2f} |")
    print(f"| batched / unbatched | | {p2 / p2_unbatched:.2f} (goal ≥ 1.5) |")
    print("\nP3 — total PSS of the brain's processes, default topology (config/default.toml), every cortex")
    print('started with its eye (start = "connect"):\n')
    print("| eyes | PSS MB | per added eye MB |")
    print("|---:|---:|---:|")
    for count, mb in p3.items():
        per = (mb - p3[1]) / (count - 1) if count > 1 else 0
        print(f"| {count} | {mb:.0f} | {per:.1f} |")


if __name__ == "__main__":
    main()
