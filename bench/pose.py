"""Pose benchmark (issue "Move"), all in one run, against the bare model in this process.

1. Bare MoveNet: lightning ms per frame (JPEG decode + pad + infer + decode), at batch 1
   and as a loop over 8 (it cannot batch), and multipose's ms per frame.
2. The brain's round trip frame → `pose` output for 1 eye (closed loop), ratio to bare.
3. Frames per second: 1 and 8 eyes in closed loop, and 8 eyes at the default snapshot
   rate (one frame every 200 ms each): how many `pose` outputs come back.
4. The holder's memory (PSS) with the default models, with and without the pose model.
5. Time from the first frame of a gesture to the `gesture` output, at 5 frames a second.
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from websockets.asyncio.client import connect

from actors.imaging import decode_for_model
from actors.models.recipes import RECIPES
from harness import ROOT
from harness.brains import running_brain
from harness.configs import models
from harness.pictures import ASTRONAUT, CAMERAMAN

DEFAULT = (ROOT / "config" / "default.toml").read_text()
POSE = (
    """
[server]
max_frames_per_s = 1000.0
"""
    + models("pose")
    + """
[[cortex]]
name = "pose"
type = "pose"
subscribes = ["image"]
params = { model = "pose", min_keypoints = 5 }
"""
)
WITHOUT_POSE = DEFAULT[: DEFAULT.index('[[model]]\nname = "pose"')] + DEFAULT[DEFAULT.index("[[cortex]]") :]
WITHOUT_POSE = WITHOUT_POSE[: WITHOUT_POSE.index("\n# Keypoints, head direction")]


def jpeg(image: Image.Image, size=(640, 480)) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").resize(size).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


FRAME = jpeg(CAMERAMAN)
STILL = jpeg(ASTRONAUT)  # looking ahead: no gesture


def bare() -> dict[str, float]:
    from actors.models import runtime
    from actors.models.formats import format_of

    def timed(kind: str, name: str, batch: int, repeats: int = 40) -> float:
        recipe = RECIPES[kind]
        path = ROOT / "models" / name  # as the holder runs it: .tflite in LiteRT, .json in TensorFlow
        model = runtime.load(path, format_of(path), batchable=False)
        model(recipe.preprocess(np.zeros((1, *recipe.input_size, 3), np.uint8)))
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            pixels = np.stack([decode_for_model(FRAME, recipe.input_size, 10**8, padded=True)[0] for _ in range(batch)])
            outputs = model(recipe.preprocess(pixels))
            for i in range(batch):
                recipe.decode([o[i] for o in outputs], 0.2)
            times.append((time.perf_counter() - started) * 1000 / batch)
        return statistics.median(times)

    return {
        "lightning, batch 1": timed("movenet", "movenet-lightning.tflite", 1),
        "lightning, loop of 8": timed("movenet", "movenet-lightning.tflite", 8),
        "thunder, batch 1": timed("movenet-thunder", "movenet-thunder.tflite", 1),
        "multipose, batch 1 (TensorFlow)": timed("movenet-multipose", "movenet-multipose.json", 1),
    }


async def ready(url: str):
    ws = await connect(url, max_size=None)
    while True:
        output = json.loads(await ws.recv())
        if output["kind"] == "status" and output["data"].get("ready"):
            return ws


async def next_of(ws, kind: str, timeout: float = 60) -> tuple[dict, float]:
    while True:
        output = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if output["kind"] == kind:
            return output, time.perf_counter()


async def model_ready(ws) -> None:
    await ws.send(FRAME)
    await next_of(ws, "pose", 120)


async def round_trips(url: str, count: int = 60) -> float:
    ws = await ready(url)
    await model_ready(ws)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await ws.send(FRAME)
        _, done = await next_of(ws, "pose")
        times.append((done - started) * 1000)
    await ws.close()
    return statistics.median(times)


async def throughput(url: str, eyes: int, seconds: float, every_s: float | None) -> float:
    sockets = [await ready(url) for _ in range(eyes)]
    for ws in sockets:
        await model_ready(ws)
    counts = [0] * eyes
    deadline = time.perf_counter() + seconds

    async def closed_loop(i, ws):
        while time.perf_counter() < deadline:
            await ws.send(FRAME)
            await next_of(ws, "pose")
            counts[i] += 1

    async def paced(i, ws):
        async def read():
            while True:
                await next_of(ws, "pose", seconds + 30)
                counts[i] += 1

        reader = asyncio.create_task(read())
        while time.perf_counter() < deadline:
            await ws.send(FRAME)
            await asyncio.sleep(every_s)
        await asyncio.sleep(1)  # the last answers
        reader.cancel()

    await asyncio.gather(*((paced if every_s else closed_loop)(i, ws) for i, ws in enumerate(sockets)))
    for ws in sockets:
        await ws.close()
    return sum(counts) / seconds


async def gesture_latency(url: str, repeats: int = 6) -> list[float]:
    """Looking ahead for a second (any gesture ends), then the cameraman's frames at
    5 a second until his gesture comes: from his first frame to the `gesture` output."""
    ws = await ready(url)
    await model_ready(ws)
    events: list[float] = []

    async def read():
        while True:
            output = json.loads(await ws.recv())
            if output["kind"] == "gesture" and output["data"]["gesture"] == "look_left":
                events.append(time.perf_counter())

    reader = asyncio.create_task(read())
    latencies = []
    for _ in range(repeats):
        for _ in range(5):
            await ws.send(STILL)
            await asyncio.sleep(0.2)
        started = time.perf_counter()
        while not [t for t in events if t > started] and time.perf_counter() - started < 10:
            await ws.send(FRAME)
            await asyncio.sleep(0.2)
        latencies.append((min(t for t in events if t > started) - started) * 1000)
    reader.cancel()
    await ws.close()
    return latencies


def holder_pss_mb(brain) -> float:
    total = 0
    for proc in brain.named("ModelHolder"):
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 2**20


async def holder_memory(config: str, tmp: Path) -> float:
    with running_brain(config, tmp) as brain:
        ws = await ready(brain.ws_url)
        await ws.send(FRAME)
        await next_of(ws, "label", 120)
        await asyncio.sleep(1)
        pss = holder_pss_mb(brain)
        await ws.close()
        return pss


def main() -> None:
    print("Pose benchmark (MoveNet), this machine, 640×480 JPEG of the cameraman photo\n")
    bare_ms = bare()
    print("| bare pipeline | ms per frame |\n|---|---|")
    for name, ms in bare_ms.items():
        print(f"| {name} | {ms:.1f} |")
    one_bare = bare_ms["lightning, batch 1"]
    with tempfile.TemporaryDirectory() as tmp:
        with running_brain(POSE, Path(tmp)) as brain:
            rt = asyncio.run(round_trips(brain.ws_url))
            one = asyncio.run(throughput(brain.ws_url, 1, 10, None))
            eight = asyncio.run(throughput(brain.ws_url, 8, 10, None))
            paced = asyncio.run(throughput(brain.ws_url, 8, 10, 0.2))
            gestures = asyncio.run(gesture_latency(brain.ws_url))
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        with_pose = asyncio.run(holder_memory(DEFAULT, Path(tmp) / "a"))
        without = asyncio.run(holder_memory(WITHOUT_POSE, Path(tmp) / "b"))
    print("\n| brain (pose cortex, lightning) | value | against bare |\n|---|---|---|")
    print(f"| 1 eye, p50 round trip | {rt:.1f} ms | {rt / one_bare:.2f}× bare {one_bare:.1f} ms |")
    print(f"| 1 eye, closed loop | {one:.1f} frames/s | {one / (1000 / one_bare):.2f}× bare |")
    print(
        f"| 8 eyes, closed loop | {eight:.1f} frames/s | {eight / (1000 / bare_ms['lightning, loop of 8']):.2f}× bare loop |"
    )
    print(f"| 8 eyes at 5 frames/s each (40 sent/s) | {paced:.1f} poses/s | |")
    print(
        f"| first gesture frame → gesture output, p50 of {len(gestures)} | {statistics.median(gestures):.0f} ms "
        f"(min {min(gestures):.0f}, max {max(gestures):.0f}) | 3 frames at 200 ms: ≥ 400 ms by design |"
    )
    print("\n| holder PSS, default topology | MB |\n|---|---|")
    print(f"| without the pose model | {without:.0f} |\n| with it | {with_pose:.0f} (+{with_pose - without:.0f}) |")


if __name__ == "__main__":
    main()
