"""Seeing everyone (issue "Crowd"): which way finds every person, and what it costs.

1. Bare, in this process, on frames of 1, 2, 4 and 6 people (real photos side by side, 640×480
JPEGs): people found and keypoints against multipose as the reference, and the median ms a
frame (JPEG decode included), for

- lightning on the whole frame (what the pose cortex did before: one person at most);
- multipose (TensorFlow, 256², from its .json): every frame, up to 6 people;
- crops: the COCO detector's person boxes (the objects cortex's, which runs anyway: its
  cost is shown apart, not added) and lightning on one square crop per person
  (actors/cortexes/pose/crops.py), as the pose cortex now does.

   A keypoint agrees when both are sure (≥ 0.3) and within 10 % of the person's height.
2. The brain, one eye, objects + pose cortexes (the pose cortex hears the objects cortex's
   person boxes), one frame at a time: frame → `pose` output and frame → both answered,
   beside a bare call made just before each frame, so that both meet the same machine: the
   detector and the pose crops on that frame in two threads (the two cortexes decode at
   once), their model calls taking turns under one lock (the one holder). The pose cortex as it was
   (`crops = false`: lightning on the whole frame) gives "today" for one person.
3. 8 eyes on the default topology, each sending a frame of 3 people every 200 ms (the
   page's default) for 20 s: every frame is answered or dropped by latest-frame-wins (the
   live view counts those), and the `pose` latency p50 / p95 (gateway → cortex output).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from scipy.optimize import linear_sum_assignment
from websockets.asyncio.client import connect

from actors.cortexes.pose.crops import decode_side, plan, to_frame
from actors.imaging import decode_for_model, image_size, open_rgb
from actors.models import runtime
from actors.models.formats import format_of
from actors.models.recipes import RECIPES
from harness import ROOT
from harness.brains import brain_state, running_brain
from harness.configs import default_config, models
from harness.pictures import ASTRONAUT, CAMERAMAN, jpeg
from harness.report import table

SURE = 0.3
PEOPLE = [CAMERAMAN, ImageOps.mirror(ASTRONAUT), ImageOps.mirror(CAMERAMAN), ASTRONAUT]


def group(count: int, width: int = 640, height: int = 480) -> bytes:
    """`count` people side by side (two rows from 4), each in a tile of their own."""
    rows = 1 if count <= 2 else 2
    columns = -(-count // rows)
    side = min(width // columns, height // rows)
    out = Image.new("RGB", (width, height), (90, 90, 90))
    for i in range(count):
        tile = PEOPLE[i % len(PEOPLE)].resize((side, side))
        out.paste(tile, ((i % columns) * (width // columns), (i // columns) * (height // rows)))
    return jpeg(np.asarray(out), quality=85)


def load(name: str):
    path = ROOT / "models" / name
    return runtime.load(path, format_of(path), batchable=False)


class Ways:
    def __init__(self) -> None:
        self.lightning = load("movenet-lightning.tflite")
        self.multipose = load("movenet-multipose.json")
        self.detector = load("nanodet.tflite")
        # The brain's floor for a frame: two cortexes decode it at once while the one model
        # holder runs their model calls one after the other. So here: two threads, one lock.
        self.holder = threading.Lock()
        self.other_cortex = ThreadPoolExecutor(1)

    def run(self, kind: str, model, pixels: np.ndarray, threshold: float):
        recipe = RECIPES[kind]
        with self.holder:
            outputs = model(recipe.preprocess(pixels[None]))
        return recipe.decode([o[0] for o in outputs], threshold)

    def with_detector(self, data: bytes, pose) -> list[np.ndarray]:
        """`pose(data)` while the detector looks at the same frame (the objects cortex's work)."""
        detected = self.other_cortex.submit(self.boxes, data)
        people = pose(data)
        detected.result()
        return people

    def whole(self, data: bytes) -> list[np.ndarray]:
        pixels, width, height = decode_for_model(data, RECIPES["movenet"].input_size, 10**8, padded=True)
        return [
            p * [max(width, height), max(width, height), 1] for p in self.run("movenet", self.lightning, pixels, 0.2)
        ]

    def multi(self, data: bytes) -> list[np.ndarray]:
        pixels, width, height = decode_for_model(data, RECIPES["movenet-multipose"].input_size, 10**8, padded=True)
        people = self.run("movenet-multipose", self.multipose, pixels, 0.2)
        return [p * [max(width, height), max(width, height), 1] for p in people]

    def boxes(self, data: bytes) -> list[tuple[float, ...]]:
        pixels, width, height = decode_for_model(data, RECIPES["nanodet"].input_size, 10**8)
        found = self.run("nanodet", self.detector, pixels, 0.35)
        return [
            (d.box[0] * width, d.box[1] * height, d.box[2] * width, d.box[3] * height)
            for d in found
            if d.label == "person"
        ]

    def crops(self, data: bytes, boxes) -> list[np.ndarray]:
        width, height = image_size(data)
        squares = plan([], boxes, width, height)
        image = open_rgb(data, 10**8, min_side=decode_side(width, height, squares, 192))
        scale = image.width / width  # (decoded smaller: the crops are scaled with it)
        people = []
        for square in squares:
            region = tuple(round(v * scale) for v in square.box)
            crop = image.crop(region).resize((192, 192), Image.Resampling.BILINEAR)
            people += [to_frame(p, square) for p in self.run("movenet", self.lightning, np.asarray(crop), 0.2)]
        return people


def agreement(found: list[np.ndarray], reference: list[np.ndarray]) -> tuple[int, float]:
    """(reference people matched, % of their sure keypoints that agree)."""
    if not found or not reference:
        return 0, 0.0
    cost = np.zeros((len(reference), len(found)))
    for i, ref in enumerate(reference):
        for j, got in enumerate(found):
            cost[i, j] = np.median(np.hypot(*(ref[:, :2] - got[:, :2]).T))
    rows, cols = linear_sum_assignment(cost)
    agree = total = 0
    for i, j in zip(rows, cols):
        ref, got = reference[i], found[j]
        sure = (ref[:, 2] >= SURE) & (got[:, 2] >= SURE)
        seen = ref[ref[:, 2] >= SURE]
        height = max(seen[:, 1].max() - seen[:, 1].min(), 1.0) if len(seen) else 1.0
        close = np.hypot(*(ref[:, :2] - got[:, :2]).T) <= 0.1 * height
        agree += int((sure & close).sum())
        total += int((ref[:, 2] >= SURE).sum())
    return len(rows), 100 * agree / max(total, 1)


def median_ms(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bare_table(ways: Ways, repeats: int = 30) -> None:
    rows = []
    for count in (1, 2, 4, 6):
        data = group(count)
        reference = ways.multi(data)
        boxes = ways.boxes(data)
        whole, cropped = ways.whole(data), ways.crops(data, boxes)
        rows.append(
            [
                count,
                len(reference),
                f"{len(whole)} ({agreement(whole, reference)[1]:.0f} %)",
                f"{len(cropped)} ({agreement(cropped, reference)[1]:.0f} %)",
                f"{median_ms(lambda: ways.whole(data), repeats):.1f}",
                f"{median_ms(lambda: ways.multi(data), repeats):.1f}",
                f"{median_ms(lambda: ways.crops(data, boxes), repeats):.1f}",
                f"{median_ms(lambda: ways.boxes(data), repeats):.1f}",
            ]
        )
    print("\nPeople found (keypoints agreeing with multipose) and median ms a frame, bare:\n")
    table(
        (
            "people in view",
            "multipose found",
            "whole-frame lightning found",
            "crops found",
            "whole-frame ms",
            "multipose ms",
            "crops ms",
            "detector ms (objects cortex's)",
        ),
        rows,
    )


# -- 2. the brain, one eye --------------------------------------------------------------------


def crowd_topology(crops: bool) -> str:
    """The objects and pose cortexes of config/default.toml, the eye's frame cap lifted (this
    eye sends its next frame as soon as the last is answered)."""
    return (
        "[server]\nmax_frames_per_s = 1000.0\n"
        + models("objects", "pose")
        + """
[[cortex]]
name = "objects"
type = "objects"
subscribes = ["image"]
params = { model = "objects", threshold = 0.35, infer_timeout_ms = 60000 }

[[cortex]]
name = "pose"
type = "pose"
subscribes = ["image", "label"]
"""
        + f'params = {{ model = "pose", crops = {str(crops).lower()}, infer_timeout_ms = 60000 }}\n'
    )


async def ready(url: str):
    ws = await connect(url, max_size=None)
    while True:
        output = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if output["kind"] == "status" and output["data"].get("ready"):
            return ws


async def answered(ws, frame: bytes) -> tuple[float, float, int]:
    """Send one frame: (ms to its `pose` output, ms until both cortexes answered, people)."""
    started = time.perf_counter()
    await ws.send(frame)
    pose_ms = all_ms = None
    people = 0
    while pose_ms is None or all_ms is None:
        output = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if output["kind"] == "error":
            raise RuntimeError(output["text"])
        if output["kind"] == "pose":
            pose_ms, people = (time.perf_counter() - started) * 1000, len(output["data"]["people"])
        elif output["kind"] == "label":
            all_ms = 0.0  # (the label came; the round ends with the pose)
        if pose_ms is not None and all_ms is not None:
            all_ms = (time.perf_counter() - started) * 1000
    return pose_ms, all_ms, people


async def one_eye(url: str, frame: bytes, bare, count: int) -> dict:
    ws = await ready(url)
    try:
        for _ in range(4):  # the models warm, the objects cortex's boxes heard, everyone tracked
            await answered(ws, frame)
        bare_ms, pose_ms, all_ms, found = [], [], [], []
        for _ in range(count):
            started = time.perf_counter()
            bare()
            bare_ms.append((time.perf_counter() - started) * 1000)
            pose, both, people = await answered(ws, frame)
            pose_ms.append(pose)
            all_ms.append(both)
            found.append(people)
        return {
            "bare": statistics.median(bare_ms),
            "pose": statistics.median(pose_ms),
            "all": statistics.median(all_ms),
            "found": f"{min(found)}–{max(found)}" if min(found) != max(found) else str(found[0]),
        }
    finally:
        await ws.close()


def brain_one_eye(ways: Ways, tmp: Path, count: int) -> None:
    rows = []
    today = None
    with running_brain(crowd_topology(crops=False), tmp / "whole") as brain:
        data = group(1)
        today = asyncio.run(one_eye(brain.ws_url, data, lambda: ways.with_detector(data, ways.whole), count))
    with running_brain(crowd_topology(crops=True), tmp / "crops") as brain:
        for people in (1, 2, 4, 6):
            data = group(people)
            boxes = ways.boxes(data)
            seen = asyncio.run(
                one_eye(
                    brain.ws_url, data, lambda d=data, b=boxes: ways.with_detector(d, lambda d: ways.crops(d, b)), count
                )
            )
            rows.append((people, seen))
    one = rows[0][1]
    print(f"\nThe brain, one eye, objects + pose cortexes, one frame at a time (medians of {count}):\n")
    table(
        (
            "people in view",
            "people in `pose`",
            "bare detector + pose ms",
            "brain, frame → both answered ms",
            "ratio",
            "brain, frame → `pose` ms",
            "against one person",
        ),
        [
            (
                "1, whole frame (as before)",
                today["found"],
                f"{today['bare']:.1f}",
                f"{today['all']:.1f}",
                f"{today['all'] / today['bare']:.2f}",
                f"{today['pose']:.1f}",
                "",
            )
        ]
        + [
            (
                people,
                seen["found"],
                f"{seen['bare']:.1f}",
                f"{seen['all']:.1f}",
                f"{seen['all'] / seen['bare']:.2f}",
                f"{seen['pose']:.1f}",
                f"{seen['pose'] / one['pose']:.2f}×",
            )
            for people, seen in rows
        ],
    )
    print(
        f"\nOne person, crops against the whole frame (goal ≤ 1.5×): {one['all'] / today['all']:.2f}× frame → both "
        f"answered, {one['pose'] / today['pose']:.2f}× frame → `pose`."
    )
    four = dict(rows)[4]
    print(
        f"Four people against one (goal ≤ 2.5×): {four['all'] / one['all']:.2f}× frame → both answered, "
        f"{four['pose'] / one['pose']:.2f}× frame → `pose` (the pose model's own work, bare: the crops column above)."
    )


# -- 3. eight eyes, three people each ------------------------------------------------------------


def pose_dropped(brain) -> int:
    return sum(
        cortex["frames_dropped"]
        for session in brain_state(brain)["sessions"]
        for cortex in session["cortexes"]
        if cortex["name"] == "pose"
    )


async def eight_eyes(brain, frame: bytes, eyes: int, seconds: float, every_s: float) -> dict:
    sockets = [await ready(brain.ws_url) for _ in range(eyes)]
    measuring = False
    latencies: list[float] = []
    counts = {"pose": [0] * eyes, "label": [0] * eyes, "sent": [0] * eyes, "errors": []}

    async def read(i, ws):
        async for message in ws:
            output = json.loads(message)
            if output["kind"] == "error":
                counts["errors"].append(output["text"])
            if measuring and output["kind"] in ("pose", "label"):
                counts[output["kind"]][i] += 1
                if output["kind"] == "pose":
                    latencies.append(output["data"]["latency_ms"])

    async def paced(i, ws, until: float, counted: bool):
        while time.perf_counter() < until:
            await ws.send(frame)
            counts["sent"][i] += counted
            await asyncio.sleep(every_s)

    readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
    try:
        warm = time.perf_counter() + 5
        await asyncio.gather(*(paced(i, ws, warm, False) for i, ws in enumerate(sockets)))
        await asyncio.sleep(2)  # (the warm-up's last frames answered)
        dropped_before = await asyncio.to_thread(pose_dropped, brain)
        measuring = True
        until = time.perf_counter() + seconds
        await asyncio.gather(*(paced(i, ws, until, True) for i, ws in enumerate(sockets)))
        await asyncio.sleep(2)  # (the last frames answered)
        measuring = False
        dropped = await asyncio.to_thread(pose_dropped, brain) - dropped_before
    finally:
        for task in readers:
            task.cancel()
        for ws in sockets:
            await ws.close()
    return {"latencies": latencies, "dropped": dropped, **counts}


def brain_eight_eyes(tmp: Path, eyes: int = 8, seconds: float = 20.0) -> None:
    frame = group(3)
    with running_brain(default_config(tmp / "faces"), tmp / "default") as brain:
        seen = asyncio.run(eight_eyes(brain, frame, eyes, seconds, 0.2))
    sent, answered_, labels = sum(seen["sent"]), sum(seen["pose"]), sum(seen["label"])
    lat = sorted(seen["latencies"])
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
    print(f"\n{eyes} eyes, default topology, a frame of 3 people every 200 ms each, {seconds:.0f} s:\n")
    table(
        (
            "frames sent",
            "`pose` outputs",
            "dropped (latest frame wins)",
            "unaccounted",
            "`pose` p50 ms",
            "`pose` p95 ms",
            "`pose` per eye, min–max",
            "labels",
            "errors",
        ),
        [
            (
                sent,
                answered_,
                seen["dropped"],
                sent - answered_ - seen["dropped"],
                f"{statistics.median(lat):.0f}" if lat else "–",
                f"{p95:.0f}",
                f"{min(seen['pose'])}–{max(seen['pose'])}",
                labels,
                len(seen["errors"]),
            )
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=("bare", "one", "eight"))
    args = parser.parse_args()
    ways = Ways()
    if args.only in (None, "bare"):
        bare_table(ways, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("whole", "crops", "default"):
            (Path(tmp) / name).mkdir()
        if args.only in (None, "one"):
            brain_one_eye(ways, Path(tmp), args.repeats)
        if args.only in (None, "eight"):
            del ways  # (its models' memory is not the brain's business)
            brain_eight_eyes(Path(tmp), seconds=args.seconds)


if __name__ == "__main__":
    main()
