"""pose: a person's body from each frame (keypoints, head direction, gestures), and the
gestures as events pushed to the eye when they start.

Per frame with somebody in it, one `pose` output; no person, no output (silence rather
than noise). The rules and the debounce are pure (body.py, gestures.py, debounce.py);
here, only decoding, one request to the holder and the outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from actors.cortexes.pose.body import KEYPOINTS, head, visible
from actors.cortexes.pose.debounce import Debouncer, DebounceSettings
from actors.cortexes.pose.gestures import BUILT_IN, RuleError, gestures_in, parse_rules
from actors.frame_cortex import FrameCortex
from actors.imaging import ImageRejected, decode_for_model
from actors.messages import Stimulus
from actors.models.messages import Inferred
from actors.params import ParamError, bounded


class Pose(FrameCortex, type_name="pose"):
    emits = ("pose", "gesture")

    @dataclass(frozen=True)
    class Params:
        model: str = "pose"  # a [[model]] of kind movenet, movenet-thunder or movenet-multipose
        threshold: float = bounded(0.2, minimum=0.0, maximum=1.0)  # a person's mean keypoint score
        min_score: float = bounded(0.3, minimum=0.0, maximum=1.0)  # a keypoint this sure is seen
        max_people: int = bounded(6, minimum=1, maximum=6)
        builtin_gestures: bool = True
        gestures: tuple[Any, ...] = ()  # more rules (or built-ins redefined by name): see gestures.py
        min_keypoints: int = bounded(8, minimum=0, maximum=17)
        agree: int = bounded(3, minimum=1, maximum=30)
        within_s: float = bounded(1.0, minimum=0.05, maximum=60.0)
        min_p: float = bounded(0.94, minimum=0.0, maximum=1.0)
        min_gap_ms: int = bounded(100, minimum=0, maximum=60_000)
        max_pixels: int = bounded(40_000_000, minimum=1024)
        infer_timeout_ms: int = bounded(5000, minimum=50)

        def __post_init__(self) -> None:
            try:
                parse_rules(self.gestures)
            except RuleError as exc:
                key, _, problem = str(exc).partition(": ")
                raise ParamError(key, problem) from None

    def model_names(self) -> tuple[str, ...]:
        return (self.params.model,)

    def on_start(self) -> None:
        super().on_start()
        mine = parse_rules(self.params.gestures)
        named = {rule.name for rule in mine}
        builtin = [rule for rule in BUILT_IN if rule.name not in named] if self.params.builtin_gestures else []
        self.rules = (*builtin, *mine)
        p = self.params
        self.debounce_settings = DebounceSettings(p.min_keypoints, p.agree, p.within_s, p.min_p, p.min_gap_ms / 1000)
        self.people: dict[int, Debouncer] = {}  # by place, left to right

    def on_frame(self, stimulus: Stimulus) -> None:
        try:
            pixels, width, height = decode_for_model(
                stimulus.image, self.input_size(self.params.model), self.params.max_pixels, padded=True
            )
        except ImageRejected as exc:
            self.error(str(exc))
            self.frame_done()
            return
        self.frame = (width, height, stimulus.received)
        self.infer(self.params.model, pixels, self.params.threshold, tag=None)

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind != "pose":
            super().on_stimulus(stimulus)
            return
        # Privacy mode: the page estimated the pose itself; no picture came, no model runs.
        people = [np.array(p, np.float64) for p in stimulus.args["people"]]
        self._publish(
            people, stimulus.args["width"], stimulus.args["height"], stimulus.received, None
        )  # (no model ran)

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        width, height, received = self.frame
        people = []
        for person in result:
            points = np.array(person, np.float64)
            points[:, :2] *= max(width, height)  # fractions of the padded square → pixels
            people.append(points)
        self._publish(people, width, height, received, message)
        self.frame_done()

    def _publish(self, found: list, width: int, height: int, received: float, served: Inferred | None) -> None:
        now = time.time()
        people, events = [], []
        for index, points in enumerate(found[: self.params.max_people]):
            direction = head(points, self.params.min_score)
            shown = gestures_in(points, direction, self.rules, self.params.min_score)
            seen = visible(points, self.params.min_score)
            debouncer = self.people.setdefault(index, Debouncer(self.debounce_settings))
            started = debouncer.see(now, {rule.name: 1.0 for rule in shown}, seen)
            events += [(index, rule) for rule in self.rules if rule.name in started]
            people.append(
                {
                    "keypoints": {
                        name: [round(float(x), 1), round(float(y), 1), round(float(s), 2)]
                        for name, (x, y, s) in zip(KEYPOINTS, points)
                    },
                    "head": direction,
                    "gestures": [rule.name for rule in shown],
                    "seen": seen,
                }
            )
        for gone in set(self.people) - set(range(len(people))):
            del self.people[gone]  # whoever stood there left: their gestures start afresh
        latency_ms = (now - received) * 1000
        if people:
            shown = {name for person in people for name in person["gestures"]}
            words = ", ".join(rule.text for rule in self.rules if rule.name in shown)
            text = f"{len(people)} {'person' if len(people) == 1 else 'people'}" + (f": {words}" if words else "")
            self.emit(
                "pose",
                text,
                {"people": people, "width": width, "height": height, "latency_ms": round(latency_ms, 1)},
                self.meter(received, self.params.model, served),
            )
        for index, rule in events:
            self.emit("gesture", rule.text, {"gesture": rule.name, "person": index})
