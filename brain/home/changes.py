"""Which of an eye's outputs the house hears of, and what it hears (pure).

An eye's cortexes answer every frame; the house wants the changes that matter: a label set
that changed, someone greeted, a gesture, an alert, a class, a reaction, a favourite. So a
frame's output is published when its summary (`state`) differs from the last one published,
an event every time; and the number of people in view whenever it changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from actors.messages import Output

__all__ = ["Changes", "Publish", "RETAINED", "STATE_KINDS", "PEOPLE_SOURCES", "state_of"]

#: Kinds that describe the frame just seen (published when their state changes, retained);
#: every other kind is an event (published each time, not retained).
STATE_KINDS = frozenset({"label", "faces", "pose", "emotion", "class"})
#: Where the count of people comes from, best first: the object detector counts everyone in
#: view (and says "nothing" when nobody is), faces only those facing it.
PEOPLE_SOURCES = ("label", "faces", "pose")
STATE_CHARS = 255  # Home Assistant's longest state
#: Every topic under an eye's that may hold a retained message, but its status (a forgotten
#: eye's are cleared).
RETAINED = (*sorted(STATE_KINDS), "people", "alert/snapshot")


@dataclass(frozen=True)
class Publish:
    what: str  # the topic under the eye's: a kind, "people" or "alert/snapshot"
    payload: dict | None  # JSON; None with `file`: the file's bytes
    retain: bool
    file: str = ""


def _labels(items: list, key: str) -> str:
    return ", ".join(sorted({str(item.get(key)) for item in items if isinstance(item, dict)}))


def state_of(output: Output) -> str:
    """The few words a Home Assistant sensor shows for an output."""
    kind, data = output.kind, output.data
    if kind == "label":
        state = _labels(data.get("detections", []), "label") or "nothing"
    elif kind == "faces":
        state = _labels(data.get("faces", []), "label") or "nobody"
    elif kind == "pose":
        state = str(len(data.get("people", [])))
    elif kind in ("gesture", "reaction", "class"):
        state = str(data.get(kind if kind != "class" else "label") or output.text)
    elif kind == "favourite":
        state = str(data.get("item") or output.text)
    else:
        state = output.text
    return state[:STATE_CHARS]


def _people(output: Output) -> int | None:
    data = output.data
    if output.kind == "label":
        return sum(1 for d in data.get("detections", []) if isinstance(d, dict) and d.get("label") == "person")
    if output.kind == "faces":
        return len(data.get("faces", []))
    if output.kind == "pose":
        return len(data.get("people", []))
    return None


class Changes:
    """One eye's outputs → what to publish. `kinds`: the kinds published (mqtt.publish)."""

    def __init__(self, kinds: frozenset[str], people_stale_s: float = 10.0):
        self.kinds = kinds
        self.people_stale_s = people_stale_s
        self.states: dict[str, str] = {}  # kind → its last published state
        self.counts: dict[str, tuple[int, float]] = {}  # people source → its latest count, and when
        self.people: int | None = None

    def see(self, output: Output) -> list[Publish]:
        out: list[Publish] = []
        if output.kind in self.kinds:
            state = state_of(output)
            greeting = output.kind == "faces" and bool(output.text)  # ("Hello, Eileen")
            if output.kind not in STATE_KINDS or greeting or self.states.get(output.kind) != state:
                self.states[output.kind] = state
                out.append(Publish(output.kind, _payload(output, state), output.kind in STATE_KINDS))
            snapshot = output.data.get("file") if output.kind == "alert" else None
            if isinstance(snapshot, str) and snapshot:
                out.append(Publish("alert/snapshot", None, True, snapshot))
        count = _people(output)
        if count is not None:
            self.counts[output.kind] = (count, output.ts)
            best = next(kind for kind in PEOPLE_SOURCES if kind in self._fresh(output.ts))
            out += self._count(self.counts[best][0], best, output.ts)
        return out

    def tick(self, now: float) -> list[Publish]:
        """Nobody has been counted for people_stale_s (the camera closed, or only the pose
        cortex counts, which says nothing of nobody): nobody is there."""
        if self.people and not self._fresh(now):
            return self._count(0, "nothing counted lately", now)
        return []

    def _fresh(self, now: float) -> set[str]:
        """The sources that counted within people_stale_s (a detector that no longer gets
        frames, in privacy mode say, must not outvote the pose cortex that does)."""
        return {kind for kind, (_, ts) in self.counts.items() if now - ts < self.people_stale_s}

    def _count(self, count: int, source: str, ts: float) -> list[Publish]:
        if count == self.people:
            return []
        self.people = count
        return [Publish("people", {"count": count, "from": source, "time": _when(ts)}, True)]


def _payload(output: Output, state: str) -> dict[str, Any]:
    data = {key: value for key, value in output.data.items() if key != "file"}  # (a path of the brain's)
    return {
        "kind": output.kind,
        "cortex": output.cortex,
        "state": state,
        "text": output.text,
        "data": data,
        "time": _when(output.ts),
    }


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
