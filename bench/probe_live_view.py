"""The live view probe (issue 23, item 2), repeatable (not CI): does GET /brain/state show
what the brain holds, whether or not an eye is connected? Against the default brain (real
models), it reads the view with no eye, with one eye, after the eye left, and while the
model holder is killed and re-created; then whether a new eye still gets its echo.

    .venv/bin/python -m bench.probe_live_view

Bounded: ~5 s on 2 cores when the view is right (LiteRT loads the five models in under a
second); each wait gives up, so at most ~6 min when it is not. Loopback only.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
import tomllib
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from harness import ROOT
from harness.brains import brain_state, running_brain
from harness.configs import default_config
from harness.eyes import label_of
from harness.pictures import ASTRONAUT, frame
from harness.waits import wait_until

MODELS = {m["name"] for m in tomllib.loads((ROOT / "config" / "default.toml").read_text())["model"]}


def served(state: dict) -> dict[str, int]:
    """model → the pid of the holder that serves it, as the view says (a loading holder has none)."""
    return {
        name: holder["pid"]
        for holder in state["holders"]
        if holder.get("pid") and holder.get("state", "ready") == "ready"
        for name in holder["models"]
    }


def row(phase: str, state: dict, said: str = "") -> tuple[str, str, str, str, str]:
    shown = served(state)
    pids = sorted(set(shown.values()))
    return (
        phase,
        f"{len(state['holders'])} ({', '.join(map(str, pids)) or 'none ready'})",
        f"{len(shown)} of {len(MODELS)}",
        str(len(state["sessions"])),
        said,
    )


def answers(brain) -> bool:
    try:
        with brain.eye(max_size=None) as eye:
            eye.wait_ready(60)
            return eye.ask("still there?", 30)["text"] == "still there?"
    except (OSError, TimeoutError, ConnectionClosed):
        return False


def main() -> None:
    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, running_brain(default_config(Path(tmp) / "faces"), Path(tmp)) as brain:
        loaded = wait_until(lambda: " ready on this machine, pid " in brain.log, 180)
        # (the log says so first: give the view 10 s to be told)
        wait_until(lambda: len(served(brain_state(brain))) == len(MODELS), 10)
        rows.append(row("no eye, models loaded (per the log)" if loaded else "no eye, 180 s", brain_state(brain)))
        with brain.eye(max_size=None) as eye:
            eye.wait_ready(60)
            label = label_of(eye, frame(ASTRONAUT))
            eye.send("hello")
            eye.wait_for(lambda o: o["cortex"] == "echo", 30)
            cortexes = brain_state(brain)["sessions"][0]["cortexes"] if brain_state(brain)["sessions"] else []
            states = ", ".join(f"{c['name']} {c['state']}" for c in cortexes)
            rows.append(
                row(
                    "one eye, after a label and an echo", brain_state(brain), f"objects: {label['text'][:30]}; {states}"
                )
            )
        wait_until(lambda: brain_state(brain)["sessions"] == [], 10)
        rows.append(row("after the eye left", brain_state(brain)))
        (holder,) = brain.named("ModelHolder")
        os.kill(holder.pid, signal.SIGKILL)
        seen: list[str] = []

        def back() -> bool:
            state = brain_state(brain)
            said = "; ".join(
                f"{h.get('state', '?')} pid {h.get('pid')} lost {h.get('lost', '?')}" for h in state["holders"]
            )
            if not seen or seen[-1] != said:
                seen.append(said)
            now = served(state)
            return len(now) == len(MODELS) and holder.pid not in now.values()

        came_back = wait_until(back, 120, interval=0.05)
        after = brain_state(brain)
        rows.append(
            row(
                "holder SIGKILLed, then re-created" if came_back else "holder SIGKILLed, 120 s",
                after,
                " → ".join(seen[:4]) or "(nothing)",
            )
        )
        rows.append(("a new eye still gets its echo", "", "", "", str(answers(brain))))
    print(f"\nThe live view (GET /brain/state) of the default brain, {time.monotonic() - started:.0f} s:\n")
    print("| when | holders listed (pids) | models ready in the view | sessions | what else it said |")
    print("|---|---|---|---:|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
