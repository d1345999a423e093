"""Memory of the default brain (issue 16): total PSS of every process, idle and with 1, 10
and 20 eyes each sending the page's 5 snapshots a second, and where it goes by process
kind. Processes are found by the actor admin's process tree (the brain's own process
beside it).

Goals: 20 eyes ≤ 1.5 GB in all, each added eye ≤ 15 MB, the holder under load within
100 MB of its idle size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import tomllib
from collections import defaultdict
from pathlib import Path

import psutil

from harness.brains import brain_state, running_brain
from harness.configs import at_connect, default_config
from harness.eyes import ready_models
from harness.pictures import ASTRONAUT, frame
from harness.processes import process_title
from harness.waits import wait_until

PHOTO = frame(ASTRONAUT.resize((640, 640)))  # a person, a face and things: every cortex works


def pss_by_kind(brain) -> dict[str, list[float]]:
    """PSS in MB of each process, grouped by kind (the actor class; "brain" for the gateway)."""
    kinds: dict[str, list[float]] = defaultdict(list)
    for proc in [psutil.Process(brain.proc.pid), *brain.processes()]:
        try:
            pss = proc.memory_full_info().pss / 2**20
            title = "brain" if proc.pid == brain.proc.pid else process_title(proc).split(" ")[0]
        except psutil.Error:
            continue
        kinds[title or "?"].append(pss)
    return kinds


async def eye(url: str, stop: asyncio.Event, ready: asyncio.Event, answers: list) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None) as ws:
        while '"ready": true' not in await ws.recv():
            pass
        ready.set()

        async def read():
            async for message in ws:
                if json.loads(message)["kind"] in ("label", "pose", "faces"):
                    answers.append(1)

        reader = asyncio.create_task(read())
        while not stop.is_set():  # the page's pace: a snapshot every 200 ms
            await ws.send(PHOTO)
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except TimeoutError:
                pass
        reader.cancel()


def cortexes_running(brain, cortexes: int) -> bool:
    """Whether the one eye's `cortexes` cortexes all run (the brain's state)."""
    sessions = brain_state(brain)["sessions"]
    states = [c["state"] for session in sessions for c in session["cortexes"]]
    return len(sessions) == 1 and len(states) == cortexes and all(state == "running" for state in states)


async def idle(brain, models: set[str], cortexes: int) -> dict[str, list[float]]:
    """The brain with one eye connected, its cortexes running and every model loaded, before
    any frame."""
    from websockets.asyncio.client import connect

    assert wait_until(lambda: models <= ready_models(brain), 180), f"{models} not all loaded in 180 s"
    async with connect(brain.ws_url, max_size=None) as ws:
        while '"ready": true' not in await ws.recv():
            pass
        running = await asyncio.to_thread(wait_until, lambda: cortexes_running(brain, cortexes), 60)
        assert running, brain_state(brain)["sessions"]
        await asyncio.sleep(2)
        return pss_by_kind(brain)


async def measure(brain, steps: tuple[int, ...], settle_s: float, models: set[str], cortexes: int) -> dict:
    results = {0: await idle(brain, models, cortexes)}
    stop, tasks, answers = asyncio.Event(), [], []
    try:
        for count in steps:
            while len(tasks) < count:
                ready = asyncio.Event()
                tasks.append(asyncio.create_task(eye(brain.ws_url, stop, ready, answers)))
                await asyncio.wait_for(ready.wait(), 60)
            answers.clear()
            await asyncio.sleep(settle_s)  # under load: every eye sending
            results[count] = pss_by_kind(brain)
            results[count]["answers/s"] = [len(answers) / settle_s]
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of load before each reading")
    parser.add_argument("--eyes", default="1,10,20")
    args = parser.parse_args()
    steps = tuple(int(n) for n in args.eyes.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        # Every cortex of an eye started with it (start = "connect"; by default each starts at
        # its first stimulus): what an eye costs with all its cortexes, as measured before.
        config = at_connect(default_config(Path(tmp) / "faces")).replace(
            "max_message_bytes = 2_000_000", "max_message_bytes = 2_000_000\nmax_frames_per_s = 100.0"
        )
        started = time.perf_counter()
        with running_brain(config, Path(tmp)) as brain:
            parsed = tomllib.loads(config)
            models = {m["name"] for m in parsed["model"]}
            results = asyncio.run(measure(brain, steps, args.settle, models, len(parsed["cortex"])))
        took = time.perf_counter() - started

    total = {n: sum(sum(v) for k, v in r.items() if k != "answers/s") for n, r in results.items()}
    holder = {n: sum(r.get("ModelHolder", [0])) for n, r in results.items()}
    print(
        f"\nTotal PSS of the default brain, every process (eyes at 5 snapshots/s; {took:.0f} s); every cortex "
        'started with its eye (start = "connect").'
    )
    print("Row 0: one eye connected, every model loaded, no frame sent yet (the holder's idle size).\n")
    print("| eyes sending | processes | PSS MB | per added eye MB (from 1) | holder MB | answers/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        count = sum(len(v) for k, v in r.items() if k != "answers/s")
        per = f"{(total[n] - total[1]) / (n - 1):.1f}" if n > 1 and 1 in total else ""
        rate = f"{r['answers/s'][0]:.1f}" if "answers/s" in r else ""
        print(f"| {n} | {count} | {total[n]:.0f} | {per} | {holder[n]:.0f} | {rate} |")
    last = max(results)
    print(f"\nWhere it goes with {last} eyes (PSS MB by process kind):\n")
    print("| kind | processes | total | mean each |")
    print("|---|---:|---:|---:|")
    kinds = sorted((k for k in results[last] if k != "answers/s"), key=lambda k: -sum(results[last][k]))
    for kind in kinds:
        values = results[last][kind]
        print(f"| {kind} | {len(values)} | {sum(values):.0f} | {sum(values) / len(values):.1f} |")
    print(
        f"\nGoals: {last} eyes {total[last]:.0f} MB (≤ 1,500); per added eye "
        f"{(total[last] - total[1]) / (last - 1):.1f} MB (≤ 15); holder growth "
        f"{holder[last] - holder[0]:.0f} MB (≤ 100)."
    )


if __name__ == "__main__":
    main()
