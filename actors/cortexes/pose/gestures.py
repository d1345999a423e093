"""Gestures, declared: small rules over a normalised body, and the built-in set.

A rule is a table (the config's `[[cortex.params.gestures]]`):

    name = "arms_up"           # what the page receives as data.gesture
    text = "arms up"           # what it shows and speaks
    frame = "body"             # "body": turned upright (a tilted camera still works);
                               # "image": only centred and scaled (a lean is a tilt)
    all = ["left_wrist.y < left_shoulder.y - 0.1", "right_wrist.y < right_shoulder.y - 0.1"]
    none = ["…"]               # conditions that must not hold (unseen points: they do not)

A condition compares two terms with <, <=, > or >=. A term is a number, `point.x` or
`point.y` (a keypoint name, or `shoulders`, `hips`, `eyes`, `ears` for a pair's midpoint),
or `head.yaw` / `head.pitch` (actors/cortexes/pose/body.py), optionally `+ n` or `- n`.
Coordinates are in body scale (body.normalise): the hips' midpoint is 0, y grows downward,
and a torso is about 0.4 long. Every point an `all` condition names must be seen.
Left and right are the person's own, as in a mirror: `look_left` is the person looking
to their left, which is toward the right of the camera's image.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from actors.cortexes.pose.body import INDEX, normalise, upright

__all__ = ["Rule", "RuleError", "parse_rules", "BUILT_IN", "gestures_in"]

PAIRS = {"shoulders": ("left_shoulder", "right_shoulder"), "hips": ("left_hip", "right_hip"),
         "eyes": ("left_eye", "right_eye"), "ears": ("left_ear", "right_ear")}  # fmt: skip
OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_TERM = (
    r"(?:(?P<{0}ref>[a-z_]+\.[a-z]+)\s*(?:(?P<{0}sign>[+-])\s*(?P<{0}off>\d+(?:\.\d+)?))?|(?P<{0}num>-?\d+(?:\.\d+)?))"
)
_CONDITION = re.compile(rf"^\s*{_TERM.format('a')}\s*(?P<op><=|>=|<|>)\s*{_TERM.format('b')}\s*$")


class RuleError(ValueError):
    """A gesture rule that cannot be read; str() says which and why."""


@dataclass(frozen=True)
class Term:
    ref: str  # "left_wrist.y", "head.yaw", or "" for a plain number
    offset: float

    def points(self) -> tuple[str, ...]:
        if not self.ref or self.ref.startswith("head."):
            return ()
        name = self.ref.split(".")[0]
        return PAIRS.get(name, (name,))


@dataclass(frozen=True)
class Condition:
    left: Term
    op: str
    right: Term
    text: str


@dataclass(frozen=True)
class Rule:
    name: str
    text: str
    frame: str
    all: tuple[Condition, ...]
    none: tuple[Condition, ...] = ()

    def needs(self) -> set[str]:
        """The keypoints that must be seen for the rule to say anything."""
        return {p for c in self.all for term in (c.left, c.right) for p in term.points()}


def _term(match: re.Match, side: str, where: str) -> Term:
    if match.group(f"{side}num") is not None:
        return Term("", float(match.group(f"{side}num")))
    ref = match.group(f"{side}ref")
    name, coordinate = ref.split(".")
    if name == "head":
        if coordinate not in ("yaw", "pitch"):
            raise RuleError(f"{where}: head has yaw and pitch, not {coordinate!r}")
    else:
        if name not in INDEX and name not in PAIRS:
            known = ", ".join([*INDEX, *PAIRS])
            raise RuleError(f"{where}: no point named {name!r} (known: {known})")
        if coordinate not in ("x", "y"):
            raise RuleError(f"{where}: a point has x and y, not {coordinate!r}")
    offset = float(match.group(f"{side}off") or 0) * (-1 if match.group(f"{side}sign") == "-" else 1)
    return Term(ref, offset)


def _condition(text: Any, where: str) -> Condition:
    if not isinstance(text, str):
        raise RuleError(f"{where}: expected a condition as a string, got {text!r}")
    match = _CONDITION.match(text)
    if not match:
        raise RuleError(f'{where}: cannot read {text!r}; write e.g. "left_wrist.y < left_shoulder.y - 0.1"')
    return Condition(_term(match, "a", where), match.group("op"), _term(match, "b", where), text)


def parse_rules(tables: Any, prefix: str = "gestures") -> tuple[Rule, ...]:
    """Config tables → rules, or RuleError naming the rule and the key at fault."""
    if not isinstance(tables, list | tuple):
        raise RuleError(f"{prefix}: expected a list of tables, got {tables!r}")
    rules = []
    for i, table in enumerate(tables):
        where = f"{prefix}[{i}]"
        if not isinstance(table, dict):
            raise RuleError(f"{where}: expected a table, got {table!r}")
        unknown = sorted(set(table) - {"name", "text", "frame", "all", "none"})
        if unknown:
            raise RuleError(f"{where}.{unknown[0]}: unknown key (known keys: all, frame, name, none, text)")
        name = table.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise RuleError(f"{where}.name: expected a name in lower case (letters, digits, _), got {name!r}")
        frame = table.get("frame", "body")
        if frame not in ("body", "image"):
            raise RuleError(f'{where}.frame: expected "body" or "image", got {frame!r}')
        conditions = {}
        for key in ("all", "none"):
            listed = table.get(key, [])
            if not isinstance(listed, list | tuple):
                raise RuleError(f"{where}.{key}: expected a list of conditions, got {listed!r}")
            conditions[key] = tuple(_condition(c, f"{where}.{key}[{j}]") for j, c in enumerate(listed))
        if not conditions["all"]:
            raise RuleError(f"{where}.all: a gesture needs at least one condition")
        text = table.get("text", name.replace("_", " "))
        if not isinstance(text, str):
            raise RuleError(f"{where}.text: expected a string, got {text!r}")
        rules.append(Rule(name, text, frame, conditions["all"], conditions["none"]))
    return tuple(rules)


BUILT_IN = parse_rules(
    [
        {"name": "arms_up", "text": "arms up",
         "all": ["left_wrist.y < left_shoulder.y - 0.1", "right_wrist.y < right_shoulder.y - 0.1"]},
        {"name": "left_hand_up", "text": "left hand up", "all": ["left_wrist.y < left_shoulder.y - 0.1"],
         "none": ["right_wrist.y < right_shoulder.y - 0.1"]},
        {"name": "right_hand_up", "text": "right hand up", "all": ["right_wrist.y < right_shoulder.y - 0.1"],
         "none": ["left_wrist.y < left_shoulder.y - 0.1"]},
        # The person's own left is the image's right (x grows to the right of the image).
        {"name": "lean_left", "text": "leaning left", "frame": "image", "all": ["shoulders.x > hips.x + 0.12"]},
        {"name": "lean_right", "text": "leaning right", "frame": "image", "all": ["shoulders.x < hips.x - 0.12"]},
        {"name": "look_left", "text": "looking left", "all": ["head.yaw > 0.35"]},
        {"name": "look_right", "text": "looking right", "all": ["head.yaw < -0.35"]},
        {"name": "look_down", "text": "looking down", "all": ["head.pitch > 0.35"]},
    ],
    "built-in gestures",
)  # fmt: skip


def _value(term: Term, points: np.ndarray, head: dict | None) -> float | None:
    if not term.ref:
        return term.offset
    name, coordinate = term.ref.split(".")
    if name == "head":
        return None if head is None else head[coordinate] + term.offset
    axis = 0 if coordinate == "x" else 1
    indices = [INDEX[p] for p in PAIRS.get(name, (name,))]
    return float(points[indices, axis].mean()) + term.offset


def _holds(condition: Condition, points: np.ndarray, head: dict | None) -> bool:
    left, right = _value(condition.left, points, head), _value(condition.right, points, head)
    return left is not None and right is not None and OPERATORS[condition.op](left, right)


def gestures_in(person: np.ndarray, head: dict | None, rules: tuple[Rule, ...], min_score: float) -> list[Rule]:
    """The rules a person's keypoints ([17,3]) satisfy in this one frame."""
    seen = {name for name, i in INDEX.items() if person[i, 2] >= min_score}
    frames: dict[str, np.ndarray] = {"image": normalise(person)}
    frames["body"] = upright(frames["image"])
    shown: list[Rule] = []
    for rule in rules:
        if not rule.needs() <= seen:
            continue
        points = frames[rule.frame]
        if all(_holds(c, points, head) for c in rule.all) and not any(
            _holds(c, points, head) and {p for t in (c.left, c.right) for p in t.points()} <= seen for c in rule.none
        ):
            shown.append(rule)
    return shown
