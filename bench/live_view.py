"""What the live view costs (issue 15): the objects round trip and frames/s with the /brain
page closed and open, and /brain/state with 50 eyes.

The view takes its measurements from the outputs the gateway forwards anyway (its states
are told by the Sessions and the model directory, at each change), so its per-output cost
is paid with the page closed too: it is timed on its own. "Open" is the /brain page in headless
Chromium on this same machine (its drawing competes for the 2 cores: the worst case), and
separately a plain HTTP poller asking once a second, as the page does (the brain's share).
Conditions alternate in rounds, so a busy machine's drift hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from playwright.async_api import async_playwright

from actors.messages import CortexesNow, CortexSeen, CortexState, Meter, Output
from bench.objects import OBJECTS, _label, _ready, closed_loop, loaded, photo, round_trips
from brain.brain_view import BrainView
from harness.brains import running_brain
from harness.pages import CHROMIUM, FLAGS


class Poller:
    """GET /brain/state once a second, in a thread, as the page does."""

    def __init__(self, url: str):
        self.url, self.stop, self.times = url + "/brain/state", threading.Event(), []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            started = time.perf_counter()
            urllib.request.urlopen(self.url, timeout=5).read()
            self.times.append(time.perf_counter() - started)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


async def with_page(url: str, work):
    """Run `work()` while the /brain page is open in headless Chromium and refreshing."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(url + "/brain")
            await page.wait_for_function("document.querySelector('#status').dataset.tone === 'ok'")
            return await work()
        finally:
            await browser.close()


def view_costs() -> tuple[float, float, int]:
    """µs per output fed to the view; ms and bytes of one snapshot with 50 busy eyes."""
    view = BrainView()
    cortexes = ["echo", "objects", "faces", "pose", "voice", "learned", "mentions"]
    for s in range(50):
        view.opened(f"s{s}", "10.0.0.1:5000", 0.0)
        view.cortexes_now(CortexesNow(f"s{s}", tuple(CortexSeen(name, CortexState.RUNNING) for name in cortexes)))
    outputs = [
        Output(name, "label", "cup", {}, meter=Meter(latency_ms=float(i % 90), batch=4, queued=0, model=name))
        for i, name in enumerate(cortexes * 20)
    ]
    started, count = time.perf_counter(), 0
    for tick in range(300):
        for s in range(50):
            for output in outputs[:7]:
                view.output(f"s{s}", output, tick * 0.2)
                count += 1
    per_output_us = (time.perf_counter() - started) / count * 1e6
    snapshots = []
    for _ in range(20):
        started = time.perf_counter()
        body = json.dumps(view.snapshot(60.0))
        snapshots.append(time.perf_counter() - started)
    return per_output_us, statistics.median(snapshots) * 1000, len(body)


async def fifty_eyes(url: str, ws_url: str, frame: bytes) -> tuple[float, int, int]:
    sockets = [await _ready(ws_url) for _ in range(50)]
    try:
        for ws in sockets:  # (a picture each: its cortexes start, as they did at connect)
            await ws.send(frame)
            await _label(ws)
        times, body = [], b""
        for _ in range(10):
            started = time.perf_counter()
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url + "/brain/state", timeout=5).read())
            times.append(time.perf_counter() - started)
            await asyncio.sleep(0.6)  # (past the half-second the gateway reuses a snapshot)
        return statistics.median(times) * 1000, len(body), len(json.loads(body)["sessions"])
    finally:
        for ws in sockets:
            await ws.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    frame = photo(640, 427)
    results: dict[str, dict[str, list[float]]] = {}

    def add(condition: str, rt: float, fps: float) -> None:
        results.setdefault(condition, {"rt": [], "fps": []})
        results[condition]["rt"].append(rt * 1000)
        results[condition]["fps"].append(fps)

    with tempfile.TemporaryDirectory() as tmp, running_brain(OBJECTS, Path(tmp)) as brain:
        loaded(brain)

        async def measure():
            rt = await round_trips(brain.ws_url, frame, 40)
            fps, _ = await closed_loop(brain.ws_url, frame, 16, args.seconds)
            return rt, fps

        for _ in range(args.rounds):
            add("page closed", *asyncio.run(measure()))
            with Poller(brain.url):
                add("a poller, once a second", *asyncio.run(measure()))
            add("/brain page open in Chromium", *asyncio.run(with_page(brain.url, measure)))
        state_ms, state_bytes, sessions = asyncio.run(fifty_eyes(brain.url, brain.ws_url, frame))
    per_output_us, snapshot_ms, snapshot_bytes = view_costs()

    closed = results["page closed"]
    rt0, fps0 = statistics.median(closed["rt"]), statistics.median(closed["fps"])
    print(f"\nThe live view's cost: objects on a 640×427 JPEG, {args.rounds} alternating rounds (medians):\n")
    print("| condition | 1 eye round trip ms | ratio | 16 eyes frames/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for condition, values in results.items():
        rt, fps = statistics.median(values["rt"]), statistics.median(values["fps"])
        print(f"| {condition} | {rt:.1f} | {rt / rt0:.2f} | {fps:.1f} | {fps / fps0:.2f} |")
    print("\nThe view itself (paid whether the page is open or not):\n")
    print("| what | figure |")
    print("|---|---:|")
    print(f"| feeding one output to the view | {per_output_us:.2f} µs |")
    print(f"| one snapshot, 50 eyes × 7 cortexes, built + JSON | {snapshot_ms:.1f} ms, {snapshot_bytes:,} bytes |")
    print(f"| GET /brain/state with 50 eyes connected (median of 10) | {state_ms:.1f} ms, {state_bytes:,} bytes |")
    print(f"| sessions it listed | {sessions} |")


if __name__ == "__main__":
    main()
