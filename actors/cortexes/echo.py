"""echo: says back what it hears, and describes the images it is shown."""

from dataclasses import dataclass

from actors.cortex import Cortex
from actors.messages import Stimulus


class Echo(Cortex, type_name="echo"):
    emits = ("echo",)  # (its "image" outputs are not routable: "image" is what an eye sends)

    @dataclass(frozen=True)
    class Params:
        prefix: str = ""

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind == "text":
            self.emit("echo", self.params.prefix + stimulus.text)
        elif stimulus.kind == "image":
            self.emit(
                "image",
                f"I got a {len(stimulus.image)}-byte {stimulus.content_type} image.",
                {"bytes": len(stimulus.image), "content_type": stimulus.content_type},
            )
        elif stimulus.kind == "command":
            self.emit("echo", f"command {stimulus.text}", {"args": stimulus.args})
