"""voice: the eye obeys spoken commands ("open your eyes", "ferme les yeux", "what do you
see") — the brain decides, the page acts on an `eye` output (data.action).

Actions the page knows: open_eyes (start the camera), close_eyes (stop it), look (take a
snapshot now and speak what is seen), switch_camera (front ↔ back). A topology may
replace the phrases, add languages or say other things, with `[[cortex.params.commands]]`
tables: action, say, phrases.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from actors.cortex import Cortex
from actors.messages import Stimulus
from actors.params import ParamError

__all__ = ["Voice", "ACTIONS", "DEFAULT_COMMANDS", "words", "heard"]

ACTIONS = ("open_eyes", "close_eyes", "look", "switch_camera")

DEFAULT_COMMANDS = (
    {"action": "open_eyes", "say": "Opening my eyes.", "phrases": ["open your eyes", "open the camera", "wake up"]},
    {"action": "open_eyes", "say": "J'ouvre les yeux.", "phrases": ["ouvre les yeux", "ouvre tes yeux", "réveille-toi"]},
    {"action": "close_eyes", "say": "Closing my eyes.", "phrases": ["close your eyes", "close the camera"]},
    {"action": "close_eyes", "say": "Je ferme les yeux.", "phrases": ["ferme les yeux", "ferme tes yeux"]},
    {"action": "look", "say": "Let me look.", "phrases": ["what do you see", "what can you see", "look at this"]},
    {"action": "look", "say": "Je regarde.", "phrases": ["qui vois-tu", "que vois-tu", "qu'est-ce que tu vois"]},
    {"action": "switch_camera", "say": "Switching camera.", "phrases": ["switch camera", "other camera"]},
    {"action": "switch_camera", "say": "Je change de caméra.", "phrases": ["change de caméra", "autre caméra"]},
)  # fmt: skip


def words(text: str) -> str:
    """Lower case, no accents, no punctuation: " qu est ce que tu vois " (spaced at both ends)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return " " + " ".join(re.findall(r"[a-z0-9]+", plain)) + " "


def heard(transcript: str, commands: tuple[dict, ...]) -> dict | None:
    """The first command one of whose phrases is in the transcript, as whole words."""
    said = words(transcript)
    for command in commands:
        if any(words(phrase) in said for phrase in command["phrases"]):
            return command
    return None


def check_commands(tables: Any) -> None:
    for i, table in enumerate(tables):
        where = f"commands[{i}]"
        if not isinstance(table, dict) or set(table) != {"action", "say", "phrases"}:
            raise ParamError(where, f"expected a table with action, say and phrases, got {table!r}")
        if table["action"] not in ACTIONS:
            raise ParamError(f"{where}.action", f"{table['action']!r} is not one of {', '.join(ACTIONS)}")
        phrases = table["phrases"]
        if (
            not isinstance(phrases, list)
            or not phrases
            or not all(isinstance(p, str) and words(p).strip() for p in phrases)
        ):
            raise ParamError(f"{where}.phrases", "expected a list of phrases with words in them")


class Voice(Cortex, type_name="voice"):
    emits = ("eye",)

    @dataclass(frozen=True)
    class Params:
        commands: tuple[Any, ...] = DEFAULT_COMMANDS

        def __post_init__(self) -> None:
            check_commands(self.commands)

    def on_stimulus(self, stimulus: Stimulus) -> None:
        if stimulus.kind != "text":
            return
        command = heard(stimulus.text, self.params.commands)
        if command is not None:  # (anything else is for other cortexes: say nothing)
            self.emit("eye", command["say"], {"action": command["action"]})
