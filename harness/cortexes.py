"""Cortexes that exist only for tests, loaded by e.g. `type = "harness.cortexes:Flaky"`."""

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
