"""pose: everyone's body in each frame (keypoints, head direction, gestures), each person with
an id that stays theirs, and their gestures as events pushed to the eye when they start.

Per frame with somebody in it, one `pose` output with every person, left to right; nobody,
no output (silence rather than noise). Single-pose MoveNet runs once per person, on a crop
around them (crops.py): around where each tracked person was in the last frame, and around
each new person box the objects cortex found (this cortex hears its `label` outputs; the
detector is never run twice). The known faces the faces cortex names (its `faces` outputs)
name the people they belong to (names.py). Tracking, the keypoint filter, the rules and
the per-person debounce are pure (tracking.py, smoothing.py, gestures.py, people.py); here,
only decoding, the requests to the holder and the outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from actors.cortexes.pose.body import KEYPOINTS, head, visible
from actors.cortexes.pose.crops import (
    CropSettings,
    Square,
    decode_side,
    plan,
    same_people,
    to_frame,
    wait_for_boxes,
    whole_frame,
)
from actors.cortexes.pose.gestures import BUILT_IN, RuleError, gestures_in, parse_rules
from actors.cortexes.pose.names import Names
from actors.cortexes.pose.people import People, Showing
from actors.cortexes.pose.smoothing import KeypointSmoother
from actors.cortexes.pose.tracking import Found, Tracked, Tracker, TrackSettings, box_around
from actors.debounce import DebounceSettings
from actors.frame_cortex import FrameCortex
from actors.imaging import ImageRejected, image_size, open_rgb
from actors.messages import Stimulus
from actors.models.messages import Inferred
from actors.params import ParamError, bounded


@dataclass
class _Frame:
    image: Any  # the decoded frame (maybe at a reduced scale: `scale`)
    scale: float
    width: int
    height: int
    received: float
    squares: list[Square]
    found: dict[int, list[np.ndarray]]  # crop index → the people MoveNet found in it, frame pixels


@dataclass(frozen=True)
class _BoxesDue:
    """Timer: the frame received at `received` waited long enough for the detector's boxes."""

    received: float


class Pose(FrameCortex, type_name="pose"):
    emits = ("pose", "gesture")

    @dataclass(frozen=True)
    class Params:
        model: str = "pose"  # a [[model]] of kind movenet, movenet-thunder or movenet-multipose
        threshold: float = bounded(0.2, minimum=0.0, maximum=1.0)  # a person's mean keypoint score
        min_score: float = bounded(0.3, minimum=0.0, maximum=1.0)  # a keypoint this sure is seen
        max_people: int = bounded(6, minimum=1, maximum=12)  # crops (MoveNet runs) a frame at most
        crops: bool = True  # false for movenet-multipose, which sees everyone in the whole frame
        crop_margin: float = bounded(1.3, minimum=1.0, maximum=3.0)  # a crop's side over its person's box
        boxes_fresh_s: float = bounded(
            1.0, minimum=0.0, maximum=10.0
        )  # the objects cortex's boxes this old still count
        # With nobody tracked and no fresh boxes, a frame waits this long for the objects
        # cortex's next boxes (this frame's, or the one before's) (crops.wait_for_boxes), then goes to MoveNet whole.
        boxes_wait_ms: int = bounded(1000, minimum=0, maximum=10_000)
        keep_s: float = bounded(1.0, minimum=0.0, maximum=10.0)  # a person missed this long keeps their id
        smoothing: bool = True  # a One Euro filter on each person's keypoints
        names_within_s: float = bounded(2.0, minimum=0.0, maximum=60.0)  # known faces this old name people
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
        p = self.params
        mine = parse_rules(p.gestures)
        named = {rule.name for rule in mine}
        builtin = [rule for rule in BUILT_IN if rule.name not in named] if p.builtin_gestures else []
        self.rules = (*builtin, *mine)
        self.crop_settings = CropSettings(margin=p.crop_margin, max_crops=p.max_people)
        self.tracker = Tracker(TrackSettings(keep_s=p.keep_s, min_score=p.min_score))
        self.smoother = KeypointSmoother(min_score=p.min_score)
        self.people = People(DebounceSettings(p.min_keypoints, p.agree, p.within_s, p.min_p, p.min_gap_ms / 1000))
        self.names = Names(p.names_within_s, p.min_score)
        self.boxes: list[tuple[float, ...]] = []  # the objects cortex's latest person boxes …
        self.boxes_at = -1e18  # … and when they came
        self.tracked: list[tuple[float, ...]] = []  # where everyone kept was last seen …
        self.tracked_at = -1e18
        self.waiting: Stimulus | None = None  # a frame waiting for the boxes of its own

    # -- what the other cortexes say ----------------------------------------------------

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind == "pose":
            # Privacy mode: the page estimated the poses itself; no picture came, no model runs.
            people = [np.array(p, np.float64) for p in stimulus.args["people"]]
            args = stimulus.args
            self._publish(people, args["width"], args["height"], stimulus.received, None)
        elif stimulus.kind == "label":  # the objects cortex's: its person boxes, for new people
            detections = stimulus.args.get("data", {}).get("detections", [])
            self.boxes = [tuple(d["box"]) for d in detections if d.get("label") == "person"]
            self.boxes_at = time.monotonic()
            if self.waiting is not None:
                waiting, self.waiting = self.waiting, None
                self._look_later(waiting)
        elif stimulus.kind == "faces":  # the faces cortex's: the known ones name their person
            faces = stimulus.args.get("data", {}).get("faces", [])
            self.names.faces_seen(time.monotonic(), [(f["box"], f.get("name")) for f in faces])
        else:
            super().on_stimulus(stimulus)

    # -- frames ---------------------------------------------------------------------------

    def on_timer(self, payload: Any) -> None:
        if not isinstance(payload, _BoxesDue):
            super().on_timer(payload)
        elif self.waiting is not None and self.waiting.received == payload.received:
            waiting, self.waiting = self.waiting, None
            self._look_later(waiting)  # (no boxes came: the objects cortex dropped that frame, or is loading)

    def _look_later(self, stimulus: Stimulus) -> None:
        """A frame that waited for boxes, outside the frame flow's own start: one that fails
        (its holder lost meanwhile) must still end, or no frame would ever start again."""
        try:
            self._look(stimulus)
        except Exception:
            self.frame_done()
            raise

    def on_frame(self, stimulus: Stimulus) -> None:
        p = self.params
        now = time.monotonic()
        tracked = self.tracked if now - self.tracked_at <= p.keep_s else []
        fresh = now - self.boxes_at <= p.boxes_fresh_s
        if p.crops and p.boxes_wait_ms and wait_for_boxes(tracked, fresh, "label" in self.subscribes):
            self.waiting = stimulus
            self.after(p.boxes_wait_ms / 1000, _BoxesDue(stimulus.received))
            return
        self._look(stimulus)

    def _look(self, stimulus: Stimulus) -> None:
        now = time.monotonic()
        try:
            size = image_size(stimulus.image)
            if size is None:  # (not a format whose header we read: decoded once to learn it)
                size = open_rgb(stimulus.image, self.params.max_pixels).size
            width, height = size
            squares = [whole_frame(width, height)]
            if self.params.crops:
                tracked = self.tracked if now - self.tracked_at <= self.params.keep_s else []
                boxes = self.boxes if now - self.boxes_at <= self.params.boxes_fresh_s else []
                squares = plan(tracked, boxes, width, height, self.crop_settings)
            side = max(self.input_size(self.params.model))
            image = open_rgb(stimulus.image, self.params.max_pixels, min_side=decode_side(width, height, squares, side))
        except ImageRejected as exc:
            self.error(str(exc))
            self.frame_done()
            return
        self.frame = _Frame(image, image.width / width, width, height, stimulus.received, squares, {})
        input_h, input_w = self.input_size(self.params.model)
        for index, square in enumerate(squares):
            region = tuple(round(v * self.frame.scale) for v in square.box)
            pixels = np.asarray(image.crop(region).resize((input_w, input_h), Image.Resampling.BILINEAR))
            self.infer(self.params.model, pixels, self.params.threshold, tag=index)

    def on_result(self, tag: Any, result: Any, message: Inferred) -> None:
        frame = self.frame
        frame.found[tag] = [to_frame(person, frame.squares[tag]) for person in result]
        if len(frame.found) < len(frame.squares):
            return  # (the other crops' answers are on their way)
        people = [person for index in sorted(frame.found) for person in frame.found[index]]
        self._publish(people, frame.width, frame.height, frame.received, message)
        frame.image = None  # (its pixels are not needed once every crop is answered)
        self.frame_done()

    # -- everyone in view ------------------------------------------------------------------

    def _publish(self, found: list, width: int, height: int, received: float, served: Inferred | None) -> None:
        p = self.params
        now = time.monotonic()
        boxed = [(box_around(points, p.min_score), points) for points in found]
        boxed = [(box, points) for box, points in boxed if box is not None]
        keep = same_people([box for box, _ in boxed], [float(points[:, 2].mean()) for _, points in boxed])
        tracked = self.tracker.update([Found(*boxed[i]) for i in keep][: p.max_people], now)
        kept = self.tracker.ids
        if p.smoothing:
            tracked = self.smoother.smooth(now, tracked, kept)
        self.tracked, self.tracked_at = self.tracker.boxes, now
        names = self.names.names(now, tracked, kept)
        people, showing = [], []
        for person in tracked:
            people.append(self._describe(person, names.get(person.id), width, height))
            showing.append(Showing(person.id, {g: 1.0 for g in people[-1]["gestures"]}, people[-1]["seen"]))
        events = self.people.see(now, showing, kept)
        if people:
            shown = {name for person in people for name in person["gestures"]}
            words = ", ".join(rule.text for rule in self.rules if rule.name in shown)
            text = f"{len(people)} {'person' if len(people) == 1 else 'people'}" + (f": {words}" if words else "")
            self.emit(
                "pose",
                text,
                {
                    "people": people,
                    "width": width,
                    "height": height,
                    "latency_ms": round((time.time() - received) * 1000, 1),
                },
                self.meter(received, p.model, served),
            )
        by_id = {person["id"]: person for person in people}
        for who, gesture in events:
            rule = next(rule for rule in self.rules if rule.name == gesture)
            person = by_id[who]
            said = f"{person['name']}: {rule.text}" if person["name"] else rule.text
            self.emit(
                "gesture",
                said,
                {"gesture": gesture, "person": who, "box": person["box"], "name": person["name"]},
            )

    def _describe(self, person: Tracked, name: str | None, width: int, height: int) -> dict:
        min_score = self.params.min_score
        points = person.keypoints
        direction = head(points, min_score)
        return {
            "id": person.id,
            "name": name,
            # (in the frame: a person cut by its edge has keypoints guessed past it)
            "box": [round(float(np.clip(v, 0, size)), 1) for v, size in zip(person.box, (width, height) * 2)],
            "keypoints": {
                name: [round(float(x), 1), round(float(y), 1), round(float(s), 2)]
                for name, (x, y, s) in zip(KEYPOINTS, points)
            },
            "head": direction,
            "gestures": [rule.name for rule in gestures_in(points, direction, self.rules, min_score)],
            "seen": visible(points, min_score),
        }
