"""ticker: pushes a message every N seconds, unasked (proves unsolicited outputs)."""

from dataclasses import dataclass

from actors.cortex import Cortex
from actors.params import bounded


class Ticker(Cortex, type_name="ticker"):
    emits = ("tick",)
    pushes = True

    @dataclass(frozen=True)
    class Params:
        every_s: float = bounded(30.0, minimum=0.05)
        text: str = "tick"

    def on_start(self) -> None:
        self.count = 0
        self.after(self.params.every_s)

    def on_timer(self, payload) -> None:
        self.count += 1
        self.emit("tick", f"{self.params.text} {self.count}", {"count": self.count})
        self.after(self.params.every_s)
