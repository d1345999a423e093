"""Cortexes that exist only for tests, loaded by `type = "tests.cortexes:Flaky"`."""

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
