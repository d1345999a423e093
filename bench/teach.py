"""Teach benchmark (issue "Teach it"), in one run, through a real brain.

1. Training time for 3 classes × 50 samples, with image features and with pose features,
   and the accuracy on 10 held-out variants of each class (never seen in training).
2. Another eye's objects round trip (p50, p95) on the default topology, without a training
   and while one runs.
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageOps

from harness.brains import running_brain
from harness.configs import default_config, models
from harness.eyes import eye_when_loaded
from harness.pictures import ASTRONAUT, CAMERAMAN
from harness.pictures import variant as another_take

TEACH = """
[server]
max_frames_per_s = 500.0
max_messages_per_s = 1000.0

{models}

[[cortex]]
name = "learned"
type = "learned"
subscribes = ["image", "command"]
params = {{ store_dir = "{store}", infer_timeout_ms = 60000, mirror_poses = false }}
"""
IMAGES = {
    "cup": Image.fromarray(skimage.data.coffee()),
    "cat": Image.fromarray(skimage.data.chelsea()),
    "rocket": Image.fromarray(skimage.data.rocket()),
}
LEARNED_MODELS = {"pose", "image-features"}  # (what the learned cortex runs)
# Three poses: a portrait, a man bent over his camera, and the same man facing the other way.
POSES = {"portrait": ASTRONAUT, "camera right": CAMERAMAN, "camera left": ImageOps.mirror(CAMERAMAN)}


def variant(image: Image.Image, rng) -> bytes:
    buffer = io.BytesIO()
    another_take(image, rng).convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def until(ws, kinds: tuple[str, ...], timeout: float = 600) -> dict:
    while True:
        output = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if output["kind"] in kinds:
            return output


async def teach(brain, project: str, classes: dict, features: str, rng) -> tuple[float, float, dict]:
    ws = await eye_when_loaded(brain, LEARNED_MODELS)
    for label, image in classes.items():
        for _ in range(50):
            await ws.send(variant(image, rng))
            await ws.send(json.dumps({"command": "teach.sample", "project": project, "label": label}))
            answer = await until(ws, ("teach", "error"))
            assert answer["kind"] == "teach", answer
    started = time.perf_counter()
    await ws.send(json.dumps({"command": "teach.train", "project": project, "features": features}))
    trained = await until(ws, ("trained", "error"))
    seconds = time.perf_counter() - started
    assert trained["kind"] == "trained", trained
    await ws.send(json.dumps({"command": "teach.use", "project": project}))
    await until(ws, ("teach",))
    right = total = 0
    for label, image in classes.items():
        for _ in range(10):
            await ws.send(variant(image, rng))
            output = await until(ws, ("class",))
            right += output["data"]["label"] == label
            total += 1
    await ws.close()
    return seconds, right / total, trained["data"]


async def objects_latency(brain, seconds: float, frame: bytes) -> list[float]:
    ws = await eye_when_loaded(brain, {"objects"})
    await ws.send(frame)  # (untimed: it starts the eye's cortexes)
    await until(ws, ("label",))
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        await ws.send(frame)
        await until(ws, ("label",))
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.2)  # the default snapshot rate
    await ws.close()
    return times


async def latency_during_training(brain, rng) -> tuple[list[float], list[float], float]:
    frame = variant(IMAGES["cup"], rng)
    alone = await objects_latency(brain, 15, frame)
    trainer = await eye_when_loaded(brain, LEARNED_MODELS)
    for label, image in IMAGES.items():
        for _ in range(50):
            await trainer.send(variant(image, rng))
            await trainer.send(json.dumps({"command": "teach.sample", "project": "busy", "label": label}))
            await until(trainer, ("teach", "error"))
    await trainer.send(json.dumps({"command": "teach.train", "project": "busy", "features": "image"}))
    started = time.perf_counter()
    measuring = asyncio.create_task(objects_latency(brain, 15, frame))
    await until(trainer, ("trained", "error"))
    training_s = time.perf_counter() - started
    during = await measuring
    await trainer.close()
    return alone, during, training_s


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    rng = np.random.default_rng(11)
    print("Teach benchmark: 3 classes × 50 samples, real brain, this machine\n")
    print("| features | training | held-out accuracy | validation accuracy |\n|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with running_brain(TEACH.format(store=tmp / "store", models=models("pose", "image-features")), tmp) as brain:
            for features, classes in (("image", IMAGES), ("pose", POSES)):
                seconds, accuracy, data = asyncio.run(teach(brain, features, classes, features, rng))
                print(f"| {features} | {seconds:.1f} s | {accuracy:.0%} (30 variants) | {data['val_accuracy']:.0%} |")
        (tmp / "default").mkdir()
        # Its trainer records as fast as answers come, now over the default snapshot and
        # message rates: lift them (a sample dropped by the rate limit is never answered).
        default = default_config(tmp / "default" / "faces").replace(
            "max_message_bytes = 2_000_000",
            "max_message_bytes = 2_000_000\nmax_frames_per_s = 500.0\nmax_messages_per_s = 1000.0",
        )
        assert "max_messages_per_s = 1000.0" in default
        with running_brain(default, tmp / "default") as brain:
            alone, during, training_s = asyncio.run(latency_during_training(brain, rng))
    print("\nAnother eye's objects round trip (default topology, a frame every 200 ms):\n")
    print("| | frames | p50 | p95 |\n|---|---:|---:|---:|")
    print(f"| no training | {len(alone)} | {p(alone, 50):.0f} ms | {p(alone, 95):.0f} ms |")
    print(
        f"| while a training runs ({training_s:.0f} s, image, 150 samples) | {len(during)} | "
        f"{p(during, 50):.0f} ms ({p(during, 50) / p(alone, 50):.2f}×) | {p(during, 95):.0f} ms |"
    )


if __name__ == "__main__":
    main()
