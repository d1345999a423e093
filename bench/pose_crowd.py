"""Seeing everyone (issue "Crowd"): which way finds every person, and what it costs.

Bare, in this process, on frames of 1, 2, 4 and 6 people (real photos side by side, 640×480
JPEGs): people found and keypoints against multipose as the reference, and the median ms a
frame (JPEG decode included), for

- lightning on the whole frame (what the pose cortex did before: one person at most);
- multipose (TensorFlow, 256², from its .json): every frame, up to 6 people;
- crops: the COCO detector's person boxes (the objects cortex's, which runs anyway: its
  cost is shown apart, not added) and lightning on one square crop per person
  (actors/cortexes/pose/crops.py), as the pose cortex now does.

A keypoint agrees when both are sure (≥ 0.3) and within 10 % of the person's height.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from PIL import Image, ImageOps
from scipy.optimize import linear_sum_assignment

from actors.cortexes.pose.crops import decode_side, plan, to_frame
from actors.imaging import decode_for_model, image_size, open_rgb
from actors.models import runtime
from actors.models.formats import format_of
from actors.models.recipes import RECIPES
from harness import ROOT
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

    def run(self, kind: str, model, pixels: np.ndarray, threshold: float):
        recipe = RECIPES[kind]
        outputs = model(recipe.preprocess(pixels[None]))
        return recipe.decode([o[0] for o in outputs], threshold)

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


def main(repeats: int = 30) -> None:
    ways = Ways()
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


if __name__ == "__main__":
    main()
