"""Cortexes that exist only for tests, loaded by e.g. `type = "harness.cortexes:Flaky"`."""

import subprocess
import time
from pathlib import Path

from actors.cortex import Cortex


class Flaky(Cortex):
    """Raises on "boom"; answers anything else (proves a raising cortex gets restarted)."""

    def on_start(self) -> None:
        self.seen = 0

    def on_stimulus(self, stimulus) -> None:
        if stimulus.text == "boom":
            raise RuntimeError("boom")
        self.seen += 1
        self.emit("flaky", f"{stimulus.text} (#{self.seen} since start)", {"seen": self.seen})


class Napper(Cortex):
    """On "nap until <path>" sleeps in its handler until that file exists (a cortex that
    stops reading: its pipe fills); echoes anything else, numbered, so the order it got
    them in shows."""

    def on_start(self) -> None:
        self.seen = 0

    def on_stimulus(self, stimulus) -> None:
        if stimulus.text.startswith("nap until "):
            wake = Path(stimulus.text.removeprefix("nap until "))
            deadline = time.monotonic() + 60
            while not wake.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return
        self.seen += 1
        self.emit("napper", stimulus.text, {"seen": self.seen})


class Mumbler(Cortex):
    """On "mumble" says text with a lone surrogate (as a mention or an event from outside
    could), which no websocket can carry; echoes anything else."""

    def on_stimulus(self, stimulus) -> None:
        self.emit("mumble", "half a character: \ud800" if stimulus.text == "mumble" else stimulus.text)


class Deaf(Cortex):
    """On "stay" says "staying", then stays in its handler for a minute, deaf to the actor
    system's shutdown (as a holder inside a long model call), starting short-lived helper
    processes all the while (as a call that runs workers): processes of its session come
    and go under the lifeline's reaper, as while dozens of actors shut down. Echoes
    anything else."""

    def on_stimulus(self, stimulus) -> None:
        if stimulus.text != "stay":
            self.emit("deaf", stimulus.text)
            return
        self.emit("deaf", "staying")
        helpers: list[subprocess.Popen] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            helpers = [helper for helper in helpers if helper.poll() is None]
            if len(helpers) < 4:
                helpers.append(subprocess.Popen(["sleep", "0.03"], stdout=subprocess.DEVNULL))
            time.sleep(0.005)
