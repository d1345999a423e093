"""Face benchmark: one comparison (local backend) over the websocket vs the bare model calls,
and how many cloud calls the face gate saves on a mixed stream (Rekognition backend
against a local server speaking its protocol, counting calls)."""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from actors.cortexes.faces.store import FaceStore
from actors.imaging import open_rgb
from actors.models import faces
from harness.brains import running_brain
from harness.eyes import eye_when_loaded
from harness.fake_rekognition import FakeRekognition

ROOT = Path(__file__).resolve().parent.parent

FACES_ONLY = """
[server]
max_frames_per_s = 1000.0

[[model]]
name = "faces"
kind = "blazeface"
path = "models/blazeface.tflite"

[[model]]
name = "face-embeddings"
kind = "faceres"
path = "models/faceres.tflite"

[[cortex]]
name = "faces"
type = "faces"
subscribes = ["image", "command"]
params = {{ {params} }}
"""


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


ASTRONAUT = Image.fromarray(skimage.data.astronaut()).resize((640, 640))
CAMERAMAN = Image.fromarray(skimage.data.camera()).convert("RGB").resize((640, 640))
# No person in these. (Chelsea the cat is left out: BlazeFace takes her face for one.)
NO_FACE = [
    Image.fromarray(skimage.data.coffee()),
    Image.fromarray(skimage.data.rocket()),
    Image.fromarray(skimage.data.stereo_motorcycle()[0]),
]


def bare_median(frame: bytes, store: FaceStore, repeats: int = 30) -> dict[str, float]:
    from actors.models.litert import LiteModel

    detector = LiteModel(ROOT / "models" / "blazeface.tflite")  # as the holder runs them
    embedder = LiteModel(ROOT / "models" / "faceres.tflite")
    times: dict[str, list[float]] = {"decode": [], "detect": [], "embed": [], "match": [], "total": []}
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        image = open_rgb(frame, 40_000_000, min_side=640)
        t1 = time.perf_counter()
        pixels = np.asarray(image.resize((256, 256)))[None]
        found = faces.detect_decode([o[0] for o in detector(faces.detect_preprocess(pixels))], 0.6)
        t2 = time.perf_counter()
        crop = image.crop(faces.crop_box(found[0].box, *image.size)).resize((224, 224))
        embedding = faces.embed_decode([o[0] for o in embedder(faces.embed_preprocess(np.asarray(crop)[None]))])
        t3 = time.perf_counter()
        store.match(embedding)
        t4 = time.perf_counter()
        if i >= 3:
            for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                times[key].append(value)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


async def _faces(ws) -> dict:
    while True:
        message = json.loads(await ws.recv())
        if message["cortex"] == "faces" and message["kind"] in ("faces", "error", "enrolled", "faces-known"):
            return message


async def brain_median(brain, frame: bytes, repeats: int = 30) -> float:
    ws = await eye_when_loaded(brain, {"faces", "face-embeddings"})
    try:
        await ws.send(frame)
        await _faces(ws)
        await ws.send(json.dumps({"command": "enroll", "name": "Eileen"}))
        await _faces(ws)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            await ws.send(frame)
            output = await _faces(ws)
            assert output["data"]["faces"][0]["name"] == "Eileen", output
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        await ws.close()


async def gate(brain, stream: list[bytes]) -> None:
    ws = await eye_when_loaded(brain, {"faces"})
    try:
        # Its faces cortex started (at connect, before) by a picture of nobody: no cloud call
        # and no output (nothing new to say), but the session says the cortex started.
        await ws.send(jpeg(NO_FACE[0]))
        while json.loads(await ws.recv())["data"].get("started") != "faces":
            pass
        await asyncio.sleep(0.4)
        for frame in stream:
            await ws.send(frame)
            await asyncio.sleep(0.4)  # one frame at a time: nothing dropped
        await ws.send(json.dumps({"command": "faces"}))
        await _faces(ws)
    finally:
        await ws.close()


def main() -> None:
    frame = jpeg(ASTRONAUT)
    with tempfile.TemporaryDirectory() as tmp:
        store = FaceStore(Path(tmp) / "bare")
        bare = bare_median(frame, store)
        params = f'store_dir = "{Path(tmp) / "faces"}", announce_every_s = 0.0'
        with running_brain(FACES_ONLY.format(params=params), Path(tmp)) as brain:
            over_ws = asyncio.run(brain_median(brain, frame))

        fake = FakeRekognition()
        ASTRONAUT.save(Path(tmp) / "eileen.jpg")
        params = (
            f'backend = "rekognition", references = {{ Eileen = "{Path(tmp) / "eileen.jpg"}" }}, '
            f'endpoint_url = "{fake.url}", region = "us-east-1"'
        )
        # A mixed stream: a fifth of the frames show a face, as a room camera would.
        stream = [jpeg(ASTRONAUT), jpeg(CAMERAMAN)] * 2 + [jpeg(NO_FACE[i % 3]) for i in range(16)]
        env = {
            "AWS_ACCESS_KEY_ID": "AKIDBENCH",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        (Path(tmp) / "cloud").mkdir()
        with running_brain(FACES_ONLY.format(params=params), Path(tmp) / "cloud", env=env) as brain:
            asyncio.run(gate(brain, stream))
        fake.close()

    print("\nFace comparison, one eye, 640×640 JPEG of one enrolled face (median of 30, ms):\n")
    print("| | decode | detect | embed | match | total |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        "| bare model calls, this process | "
        + " | ".join(f"{bare[k]:.1f}" for k in ("decode", "detect", "embed", "match", "total"))
        + " |"
    )
    print(f"| brain over websocket (faces-only topology) | | | | | {over_ws * 1000:.1f} |")
    print(f"\nratio brain / bare: {over_ws * 1000 / bare['total']:.2f}")
    calls = fake.compare_calls()
    print(
        f"\nFace gate, Rekognition backend, {len(stream)} frames of which 4 show a face, 1 reference: "
        f"{calls} CompareFaces calls instead of {len(stream)} ({len(stream) - calls} saved, "
        f"{(len(stream) - calls) / len(stream):.0%})."
    )


if __name__ == "__main__":
    main()
