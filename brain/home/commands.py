"""What the house asks of an eye over MQTT, as the output the eye obeys (pure).

`<prefix>/<eye>/say`: the text (or JSON {"text": …}) is shown and spoken (kind "say");
`<prefix>/<eye>/eye`: open, close or look, as the voice commands do (kind "eye").
`route()` decides what becomes of each message the brain hears."""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass

from actors.messages import Output
from brain.eye_names import brain_named
from brain.home.topics import inbound
from brain.protocol import has_lone_surrogate

__all__ = ["EYE_COMMANDS", "CORTEX", "Drop", "Obey", "Stale", "command", "route"]

CORTEX = "home"  # who the eye is told said it

#: The payload of …/eye → the page's action (as actors/cortexes/voice.py's) and what it says.
EYE_COMMANDS = {
    "open": ("open_eyes", "Opening my eyes."),
    "close": ("close_eyes", "Closing my eyes."),
    "look": ("look", "Let me look."),
}


def command(what: str, payload: bytes, max_say_chars: int) -> Output | str:
    """The output for the eye, or a sentence saying why the message is dropped."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return f"the {what} payload is not UTF-8 text"
    if what == "say":
        if text.startswith("{"):
            try:
                said = json.loads(text).get("text")
            except (ValueError, AttributeError):
                said = None
            if not isinstance(said, str):
                return 'a say payload in JSON must be like {"text": "Dinner is ready"}'
            text = said.strip()
        if not text:
            return "the say payload is empty"
        if len(text) > max_say_chars:
            return f"the say payload has {len(text)} characters; the limit is {max_say_chars} (mqtt.max_say_chars)"
        if has_lone_surrogate(text):
            return "the say payload holds invalid Unicode"
        return Output(CORTEX, "say", text, {"from": "mqtt"})
    if what == "eye":
        action = EYE_COMMANDS.get(text.lower())
        if action is None:
            return f"{text[:40]!r} is not an eye command: send open, close or look"
        return Output(CORTEX, "eye", action[1], {"action": action[0], "from": "mqtt"})
    return f"nothing is done with {what!r} (the house may send say or eye)"


@dataclass(frozen=True)
class Obey:
    eye: str
    output: Output


@dataclass(frozen=True)
class Drop:
    reason: str  # the /metrics label
    why: str  # for the log


@dataclass(frozen=True)
class Stale:
    """A retained `online` for an eye this brain does not have (its brain died, or the full
    queue dropped its goodbye): set it offline; a brain-named one is forgotten too."""

    eye: str
    forget: bool


def route(
    prefix: str, topic: str, payload: bytes, retain: bool, eyes: Container[str], max_say_chars: int
) -> Obey | Drop | Stale | None:
    """What becomes of a message heard on `topic` (None: nothing, it is not for us)."""
    where = inbound(prefix, topic)
    if where is None:
        return None
    eye, what = where
    if what == "status":
        if retain and payload == b"online" and eye not in eyes:
            return Stale(eye, brain_named(eye))
        return None
    if retain:
        # (the broker hands it over again at every connection: the eye would say it each time)
        return Drop("retained_command", f"a retained {what} is not obeyed; publish it without the retain flag")
    if eye not in eyes:
        return Drop("unknown_eye", f"no eye named {eye!r} is connected")
    result = command(what, payload, max_say_chars)
    if isinstance(result, str):
        return Drop("bad_command", result)
    return Obey(eye, result)
