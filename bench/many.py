"""Many eyes (issue 27): 10, 25 and 50 eyes on the default topology, each sending a snapshot
every 0.5 s, as a new user's pages would.

For each crowd, on a fresh brain that is idle with its models loaded:
- time to ready: every eye connects at once; seconds until the last is told "ready";
- PSS in all and by process kind (the actor class; "brain" is the gateway), while they send;
- answers (objects' labels) per eye in the window: min, median, max, and min / max;
- the label's latency inside the brain (the frame's arrival → the label, data.latency_ms):
  p50, p95;
- after they leave: the process count and PSS against the idle brain's.

With `--big N`, the first N eyes of each crowd send the photo at 3000×2250 (≈1 MB) at the same
rate: the answers of the others are then counted apart, to see that big frames do not starve
them.

Processes are found by the actor admin's process tree (bench/memory.py's pss_by_kind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from bench.memory import pss_by_kind
from harness.brains import running_brain
from harness.configs import default_config
from harness.eyes import every_model_ready
from harness.pictures import ASTRONAUT, frame
from harness.report import table
from harness.waits import wait_until

PHOTO = frame(ASTRONAUT.resize((640, 480)))  # a person, a face and things: every cortex works
BIG = frame(ASTRONAUT.resize((3000, 2250)))  # a phone camera's full frame, under max_message_bytes


def total(kinds: dict[str, list[float]]) -> tuple[int, float]:
    return sum(len(v) for v in kinds.values()), sum(sum(v) for v in kinds.values())


async def warm_up(url: str) -> None:
    """One eye's picture and its label: every cortex a picture starts has started once (the
    crowd meets a brain whose pages are warm)."""
    async with connect(url, max_size=None) as ws:
        await ws.send(PHOTO)
        while json.loads(await ws.recv())["kind"] != "label":
            pass


class Crowd:
    def __init__(self, url: str, eyes: int, every_s: float, big: int = 0):
        self.url, self.eyes, self.every_s, self.big = url, eyes, every_s, big
        self.ready_at: list[float] = []
        self.answers = [0] * eyes
        self.latencies: list[float] = []
        self.counting = False
        self.stop = asyncio.Event()

    async def eye(self, index: int, all_ready: asyncio.Event) -> None:
        async with connect(self.url, max_size=None, open_timeout=60) as ws:
            while '"ready": true' not in await ws.recv():
                pass
            self.ready_at.append(time.monotonic())
            if len(self.ready_at) == self.eyes:
                all_ready.set()
            await all_ready.wait()

            async def read():
                async for raw in ws:
                    output = json.loads(raw)
                    if self.counting and output["kind"] == "label":
                        self.answers[index] += 1
                        self.latencies.append(output["data"]["latency_ms"])

            reader = asyncio.create_task(read())
            await asyncio.sleep(index * self.every_s / self.eyes)  # (spread, as pages opened apart would be)
            picture = BIG if index < self.big else PHOTO
            while not self.stop.is_set():
                await ws.send(picture)
                try:
                    await asyncio.wait_for(self.stop.wait(), self.every_s)
                except TimeoutError:
                    pass
            reader.cancel()

    async def run(self, brain, warm_s: float, window_s: float) -> dict:
        all_ready = asyncio.Event()
        started = time.monotonic()
        tasks = [asyncio.create_task(self.eye(i, all_ready)) for i in range(self.eyes)]
        await asyncio.wait_for(all_ready.wait(), 120)
        to_ready = max(self.ready_at) - started
        await asyncio.sleep(warm_s)
        self.counting = True
        await asyncio.sleep(window_s)
        self.counting = False
        memory = pss_by_kind(brain)
        self.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return {"to_ready": to_ready, "memory": memory}


def crowd(config: str, tmp: Path, eyes: int, every_s: float, warm_s: float, window_s: float, big: int) -> dict:
    with running_brain(config, tmp) as brain:
        wait_until(lambda: every_model_ready(brain), 300)
        asyncio.run(warm_up(brain.ws_url))
        time.sleep(2)  # (the idle brain: its one eye has left)
        idle = pss_by_kind(brain)
        people = Crowd(brain.ws_url, eyes, every_s, big)
        result = asyncio.run(people.run(brain, warm_s, window_s))
        idle_count = total(idle)[0]
        # Leave no trace: back to the idle process count (a Session ends its cortexes).
        wait_until(lambda: total(pss_by_kind(brain))[0] <= idle_count, 60)
        time.sleep(3)
        after = pss_by_kind(brain)
    answers = sorted(people.answers[big:])  # (the eyes sending the usual photo)
    latencies = sorted(people.latencies) or [float("nan")]
    return {
        "eyes": eyes,
        "to_ready": result["to_ready"],
        "idle": idle,
        "memory": result["memory"],
        "after": after,
        "answers": answers,
        "answers_by_eye": people.answers,
        "big_answers": people.answers[:big],
        "p50": latencies[len(latencies) // 2],
        "p95": latencies[int(len(latencies) * 0.95)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eyes", default="10,25,50")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between an eye's snapshots")
    parser.add_argument("--warm", type=float, default=10.0, help="seconds of load before counting")
    parser.add_argument("--window", type=float, default=40.0, help="seconds answers are counted")
    parser.add_argument("--eager", action="store_true", help='every stanza start = "connect" (the old default)')
    parser.add_argument("--big", type=int, default=0, help="eyes of each crowd sending a 3000×2250 photo")
    args = parser.parse_args()
    results = []
    for eyes in (int(n) for n in args.eyes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            config = default_config(Path(tmp) / "faces").replace(
                "max_message_bytes = 2_000_000", "max_message_bytes = 2_000_000\nmax_eyes = 200"
            )
            if args.eager:
                config = config.replace("[[cortex]]\n", '[[cortex]]\nstart = "connect"\n')
            results.append(crowd(config, Path(tmp), eyes, args.every, args.warm, args.window, args.big))
            print(f"({eyes} eyes measured; answers by eye: {results[-1]['answers_by_eye']})", flush=True)

    when = 'every cortex started with its eye (start = "connect")' if args.eager else "cortexes started at need"
    print(f"\nThe default topology, {when}, each eye sending a snapshot every {args.every:g} s; answers are")
    print(f"objects' labels in {args.window:g} s; latency is the frame's arrival → its label, inside the brain.\n")
    rows = []
    for r in results:
        (n_idle, idle), (n_load, load), (n_after, after) = total(r["idle"]), total(r["memory"]), total(r["after"])
        a = r["answers"]
        rows.append(
            (
                r["eyes"],
                f"{r['to_ready']:.1f}",
                f"{n_load}",
                f"{load:.0f}",
                f"{(load - idle) / r['eyes']:.1f}",
                f"{a[0]} / {statistics.median(a):g} / {a[-1]}",
                f"{a[0] / a[-1]:.2f}" if a[-1] else "–",
                f"{r['p50']:.0f} / {r['p95']:.0f}",
                f"{n_idle} → {n_after}",
                f"{idle:.0f} → {after:.0f} ({after - idle:+.0f})",
            )
        )
    table(
        ("eyes", "all ready s", "processes", "PSS MiB", "per eye MiB", "answers min / median / max",
         "min ÷ max", "latency p50 / p95 ms", "processes idle → after", "PSS idle → after MiB"),
        rows,
    )  # fmt: skip
    if args.big:
        print(f"Answers (min / median / max) above count the eyes sending the usual photo; the {args.big} eyes")
        print("sending the 3000×2250 photo got, by crowd:", {r["eyes"]: r["big_answers"] for r in results}, "\n")
    print("PSS by process kind while the eyes send (MiB, mean a process; processes in brackets):\n")
    kinds = sorted({k for r in results for k in r["memory"]}, key=lambda k: -sum(results[-1]["memory"].get(k, [0])))
    rows = []
    for k in kinds:
        cells = []
        for r in results:
            each = r["memory"].get(k, [])
            cells.append(f"{sum(each) / len(each):.1f} ({len(each)})" if each else "–")
        rows.append((k, *cells, len(results[-1]["idle"].get(k, []))))
    table(("kind", *(f"{r['eyes']} eyes" for r in results), "idle processes"), rows)


if __name__ == "__main__":
    main()
