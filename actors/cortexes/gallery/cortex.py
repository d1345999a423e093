"""gallery: which picture of the gallery page a person liked best, from their face while it
was on screen (the origin story's "the webcam would watch your reaction … and tell you which
one has been your favourite").

The page sends `gallery.look` with each item it shows and `gallery.done` at the end; this
cortex hears the faces cortex's `emotion` outputs (it subscribes to them: neither imports
the other) and answers `done` with a `favourite`. The scoring is visit.py's (pure); the
items, items.py's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from actors.cortex import Cortex
from actors.cortexes.gallery.items import Item, check_item, listing
from actors.cortexes.gallery.visit import Felt, Visit, VisitSettings
from actors.messages import Stimulus
from actors.params import bounded


class Gallery(Cortex, type_name="gallery"):
    emits = ("favourite",)
    wakes_on = ("command",)  # (a visit starts with gallery.look: the faces' emotions before it are of no use)
    commands = ("gallery.look", "gallery.done")

    @dataclass(frozen=True)
    class Params:
        dir: str = ""  # the pictures ("": a handful scikit-image ships); the eye server shows the same
        max_items: int = bounded(50, minimum=1, maximum=1000)
        max_item_bytes: int = bounded(20_000_000, minimum=1024)  # a bigger picture is left out
        max_id_chars: int = bounded(64, minimum=1, maximum=200)
        max_looks: int = bounded(200, minimum=1, maximum=10_000)  # items shown in one visit
        settle_s: float = bounded(1.0, minimum=0.0, maximum=10.0)  # each item's start, not scored

        def items(self) -> list[Item]:
            """The pictures of this gallery (items.listing with these limits)."""
            return listing(self.dir, self.max_items, self.max_id_chars, self.max_item_bytes)

    def on_start(self) -> None:
        p = self.params
        self.visit = Visit(VisitSettings(settle_s=p.settle_s, max_looks=p.max_looks))

    def on_stimulus(self, stimulus: Stimulus) -> None:
        now = time.monotonic()
        if stimulus.kind == "emotion":
            faces = stimulus.args.get("data", {}).get("faces", [])
            felt = [Felt(f.get("name"), f["scores"].get("happy", 0.0), f["scores"].get("surprise", 0.0)) for f in faces]
            self.visit.feel(now, felt)
        elif stimulus.kind == "command" and stimulus.text == "gallery.look":
            p = self.params
            try:
                item = check_item(stimulus.args.get("item"), p.items(), p.max_id_chars)
                self.visit.look(now, item)
            except ValueError as exc:
                text = str(exc)
                if text.startswith("a visit shows"):
                    text = f"This visit has shown {p.max_looks} items, the most one may (gallery max_looks); send gallery.done."
                self.error(text, {"command": "gallery.look"})
        elif stimulus.kind == "command" and stimulus.text == "gallery.done":
            self._done(now)

    def _done(self, now: float) -> None:
        if not self.visit.started:
            self.error(
                "No item has been shown in this visit yet: send gallery.look with each picture, then gallery.done.",
                {"command": "gallery.done"},
            )
            return
        result = self.visit.done(now)
        titles = {item.id: item.title for item in self.params.items()}
        items = {
            item: {"score": s.score, "happy": s.happy, "surprise": s.surprise, "attention_s": s.attention_s}
            for item, s in result.items.items()
        }
        if result.favourite is None:
            text = "Nobody was watching, so I cannot tell which one you liked."
        else:
            text = f"Your favourite was {titles.get(result.favourite, result.favourite)}."
            liked = [f"{name}'s was {titles.get(item, item)}" for name, item in result.people.items()]
            if liked:
                text += " " + "; ".join(liked) + "."
        self.emit("favourite", text, {"item": result.favourite, "items": items, "people": result.people})
