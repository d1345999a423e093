"""Scale-out benchmark (issue 7), all in one run.

R1  one eye, frame → label round trip with the objects holder on this machine, then —
    same brain, same eye — after a `brain join --capabilities gpu` member on 127.0.0.2
    took the holder over; beside the bare pipeline in this process.
R2  a crashed member (every process killed at once): time until the eye hears of it,
    until the holder is loaded again here, and until the next label; then the member
    comes back and the holder moves back to it. Several cycles.
R3  the price of signing: pickle vs signed pickle of one Infer message.
"""

from __future__ import annotations

import argparse
import pickle
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from actors.models import nanodet
from actors.models.messages import Infer
from bench.objects import Bare, photo
from brain.actor_network import SignedPickle
from harness.brains import Member, running_brain
from harness.eyes import label_of as label
from harness.eyes import ready_models, ready_on
from harness.waits import wait_until

SECRET = {"CORTICAL_ACTOR_SECRET": secrets.token_hex(32)}
TOPOLOGY = """
[server]
max_frames_per_s = 1000.0

[actors]
allowed_peers = ["127.0.0.2"]
heartbeat_every_s = 0.5
host_dead_after_s = 2.0

[[model]]
name = "objects"
kind = "nanodet"
path = "models/nanodet.tflite"
requires = ["gpu"]

[[cortex]]
name = "objects"
type = "objects"
subscribes = ["image"]
params = { model = "objects", threshold = 0.35 }
"""


def round_trip_ms(eye, frame: bytes, count: int) -> tuple[float, float]:
    for _ in range(3):
        label(eye, frame)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        assert label(eye, frame)["kind"] == "label"
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def crash_cycle(brain, eye, member: Member, frame: bytes) -> dict[str, float]:
    member.crash()
    crashed = time.monotonic()
    error = label(eye, frame, timeout=30)
    told = time.monotonic() - crashed
    assert error["kind"] == "error" and "is lost" in error["text"], error
    ready_on(eye, "")
    loaded = time.monotonic() - crashed
    assert label(eye, frame)["kind"] == "label"
    labelled = time.monotonic() - crashed
    return {"told": told, "loaded here": loaded, "next label": labelled}


def signing_cost(repeats: int = 200) -> tuple[float, float, int]:
    size = nanodet.INPUT_SIZE
    message = Infer(1, "objects", 0.35, np.zeros((size, size, 3), np.uint8), time.time())
    signed = SignedPickle(secrets.token_bytes(32))

    def timed(dumps, loads) -> float:
        started = time.perf_counter()
        for _ in range(repeats):
            loads(dumps(message))
        return (time.perf_counter() - started) / repeats * 1e6

    return timed(pickle.dumps, pickle.loads), timed(signed.dumps, signed.loads), len(pickle.dumps(message))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--round-trips", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    frame = photo(640, 427)
    bare = Bare().median([frame], 30) * 1000

    with tempfile.TemporaryDirectory() as tmp:
        with running_brain(TOPOLOGY, Path(tmp), env=SECRET) as brain, brain.eye(max_size=None) as eye:
            # The holder loaded here (the brain's state: the eye's objects cortex starts at its
            # first picture, round_trip_ms's warm-up, and only then tells it of its model).
            assert wait_until(lambda: "objects" in ready_models(brain), 180), "objects did not load in 180 s"
            eye.wait_ready(60)
            local = round_trip_ms(eye, frame, args.round_trips)
            member = Member(brain, "127.0.0.2", "gpu", Path(tmp), SECRET)
            ready_on(eye, member.name)
            remote = round_trip_ms(eye, frame, args.round_trips)
            cycles = []
            try:
                for _ in range(args.cycles):
                    cycles.append(crash_cycle(brain, eye, member, frame))
                    started = time.monotonic()
                    member = Member(brain, "127.0.0.2", "gpu", Path(tmp), SECRET, member.admin_port)
                    ready_on(eye, member.name)
                    cycles[-1]["moved back"] = time.monotonic() - started
            finally:
                member.stop()
    plain_us, signed_us, message_bytes = signing_cost()

    print("\nR1 — one eye, 640×427 JPEG → label round trip (ms):\n")
    print("| path | median | p95 | ratio to bare |")
    print("|---|---:|---:|---:|")
    print(f"| bare pipeline, this process | {bare:.1f} | | 1.00 |")
    print(f"| brain, holder on this machine | {local[0]:.1f} | {local[1]:.1f} | {local[0] / bare:.2f} |")
    print(f"| brain, holder on joined host 127.0.0.2 | {remote[0]:.1f} | {remote[1]:.1f} | {remote[0] / bare:.2f} |")
    print(f"\nremote − local: {remote[0] - local[0]:+.1f} ms median")
    print("\nR2 — joined host crashed (heartbeat 0.5 s, lost after 2 s); seconds after the crash:\n")
    print("| cycle | eye told | holder loaded here | next label | holder moved back after rejoin |")
    print("|---|---:|---:|---:|---:|")
    for index, cycle in enumerate(cycles, 1):
        print(
            f"| {index} | {cycle['told']:.2f} | {cycle['loaded here']:.2f} | {cycle['next label']:.2f} | "
            f"{cycle['moved back']:.2f} |"
        )
    print(f"\nR3 — one Infer message ({message_bytes / 1024:.0f} KiB pickled), dumps + loads:")
    print(f"pickle {plain_us:.0f} µs, signed pickle {signed_us:.0f} µs (+{signed_us - plain_us:.0f} µs)")


if __name__ == "__main__":
    main()
