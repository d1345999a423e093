"""What the house asks of an eye over MQTT, as the output the eye obeys (pure).

`<prefix>/<eye>/say`: the text (or JSON {"text": …}) is shown and spoken (kind "say");
`<prefix>/<eye>/eye`: open, close or look, as the voice commands do (kind "eye")."""

from __future__ import annotations

import json

from actors.messages import Output
from brain.protocol import has_lone_surrogate

__all__ = ["EYE_COMMANDS", "CORTEX", "command"]

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
