"""The house (MQTT) benchmark: what publishing costs an eye, and how soon the house hears.

One eye on the objects topology sends the coffee cup and the cat in turn (so every frame
changes what it sees, and every label is published: the most the house can cost), each
frame once the last label came back. Three brains, one after the other:

- bare: the same pipeline in this process (decode, preprocess, NanoDet, decode), measured
  beside each round trip, the floor;
- brain: frame → label at the eye, without [mqtt];
- brain + MQTT: the same with a real Mosquitto on loopback; and frame → the label's
  message at a subscriber (paho), what a Home Assistant on that broker would see.

Also, in this process: the gateway's own cost of one label output (what changed, JSON,
queue). (A broker lost, refused or late: tests/test_home_mqtt.py.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import skimage.data

from actors.messages import Output
from bench.objects import OBJECTS, Bare, photo
from brain.config import parse_config
from brain.home.link import HomeLink
from brain.metrics import Metrics
from brain.outbox import Outbox
from harness.brains import running_brain
from harness.eyes import ready_eye
from harness.mqtt import Listener, Mosquitto
from harness.pictures import jpeg
from harness.report import table

CUP = photo(640, 480)
CAT = jpeg(skimage.data.chelsea())


def mqtt(url: str) -> str:
    return f'\n[mqtt]\nurl = "{url}"\n'


def run(brain, frames: int, bare: Bare, listener: Listener | None) -> dict[str, float]:
    eye = ready_eye(brain, models=1, name="bench")
    try:
        for picture in (CUP, CAT, CUP):  # (warm)
            eye.send(picture)
            eye.wait_for(lambda o: o["kind"] == "label", 60)
        bare_s, label_s, house_s, after_s = [], [], [], []
        for i in range(frames):
            picture = CAT if i % 2 == 0 else CUP
            bare_s.append(bare.once([picture]))
            heard = len(listener.on("cortical/bench/label")) if listener else 0
            started = time.monotonic()
            eye.send(picture)
            eye.wait_for(lambda o: o["kind"] == "label", 60)
            label_s.append(time.monotonic() - started)
            if listener is not None:
                listener.wait_for_count("cortical/bench/label", heard + 1, 10)
                house_s.append(listener.on("cortical/bench/label")[heard].at - started)
                after_s.append(house_s[-1] - label_s[-1])  # (negative: the house heard first)
        result = {"bare": statistics.median(bare_s), "label": statistics.median(label_s)}
        if house_s:
            result["house"] = statistics.median(house_s)
            result["after"] = statistics.median(after_s)
        return result
    finally:
        eye.close()


def gateway_cost(repeats: int) -> float:
    """µs of the gateway's loop per label output that changed (what changed, JSON, queue)."""
    config = parse_config({"mqtt": {"url": "mqtt://127.0.0.1:1", "max_queued": 1_000_000}})
    link = HomeLink(config.mqtt, frozenset({"label"}), lambda *_: None, Metrics())
    link.eye_joined("bench", True)
    link.queue = Outbox(10**9, 10**12, link.queue.size)  # (nothing drains it here)
    outputs = [
        Output("objects", "label", name, {"detections": [{"label": name, "score": 0.8, "box": [1.0, 2.0, 300.0, 400.0]}] * 3,
                                          "width": 640, "height": 480, "latency_ms": 40.0})
        for name in ("cup", "cat")
    ]  # fmt: skip
    started = time.perf_counter()
    for i in range(repeats):
        link.output("bench", outputs[i % 2])
    return (time.perf_counter() - started) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    bare = Bare()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        broker = Mosquitto(tmp)
        try:
            (tmp / "off").mkdir()
            with running_brain(OBJECTS, tmp / "off") as brain:
                off = run(brain, args.frames, bare, None)
            (tmp / "on").mkdir()
            with running_brain(OBJECTS + mqtt(broker.url), tmp / "on") as brain:
                listener = Listener(broker, ["cortical/bench/label"])
                on = run(brain, args.frames, bare, listener)
                listener.close()
        finally:
            broker.stop()
    ms = lambda s: f"{s * 1000:.1f}"  # noqa: E731
    rows.append(("bare pipeline (in the MQTT run)", ms(on["bare"]), "1.00"))
    rows.append(
        ("brain, frame → label", ms(off["label"]), f"{off['label'] / off['bare']:.2f} (its own bare {ms(off['bare'])})")
    )
    rows.append(("brain + MQTT, frame → label", ms(on["label"]), f"{on['label'] / on['bare']:.2f}"))
    rows.append(("brain + MQTT, frame → the house hears the label", ms(on["house"]), f"{on['house'] / on['bare']:.2f}"))
    rows.append(("… the house after the eye, by", f"{on['after'] * 1000:+.2f}", ""))
    print(f"One eye, cup and cat in turn (every label changes, so every one is published), median of {args.frames}:\n")
    table(("path", "ms", "× bare"), rows)
    cost = gateway_cost(20_000)
    print(f"The gateway's own cost of a published label (what changed, JSON, queue): {cost:.1f} µs.\n")


if __name__ == "__main__":
    main()
