"""The eye ⇄ brain wire protocol, as pure functions (no sockets, no actors).

Inbound (one websocket message each):
  - binary: raw JPEG / PNG / WebP bytes;
  - JSON {"dataURI": {"contentType": "image/jpeg", "content": "<base64>"}} (the seed's form);
  - JSON {"text": "..."} or any non-JSON text message: a transcript or typed text;
  - JSON {"command": "<name>", ...}: a control; the other fields travel as its args.
Outbound: JSON {"cortex", "kind", "text", "data", "ts"}.

Every number an eye sends must be finite and within ±max_number (a browser holds integers
exactly up to 2**53 - 1); every image's stated size within max_image_pixels; every output
must be valid UTF-8 (a lone surrogate, "\\ud800", is not): what a websocket cannot carry
never reaches one.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time

from actors.imaging import image_size
from actors.messages import Output, Stimulus

__all__ = [
    "ProtocolError",
    "parse_message",
    "is_frame",
    "encode_output",
    "brain_error",
    "close_reason",
    "has_lone_surrogate",
    "nesting_depth",
    "IMAGE_TYPES",
    "MAX_NUMBER",
]

#: content type → magic bytes at the start of the file
IMAGE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),  # plus "WEBP" at offset 8, checked below
}
_KINDS = ("dataURI", "text", "command", "pose")
MAX_PEOPLE = 6
#: The default bound of every number from an eye: JavaScript's Number.MAX_SAFE_INTEGER.
MAX_NUMBER = 2**53 - 1
#: More digits than any number within the bound has: such an int is never converted (a
#: 4,000-digit int costs its conversion; 4,301 raise ValueError).
_MAX_DIGITS = 20
#: A key that can stand in a field's path as `.key`; any other is quoted: `["odd key!"]`.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")


class ProtocolError(ValueError):
    """An eye message that cannot be understood; str() is a sentence for the person."""


def sniff_image(data: bytes) -> str | None:
    """The content type of an image by its magic bytes, or None."""
    for content_type, magics in IMAGE_TYPES.items():
        if any(data.startswith(m) for m in magics):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def _image(data: bytes, max_pixels: int | None, claimed: str | None = None) -> Stimulus:
    actual = sniff_image(data)
    if actual is None:
        head = data[:8].hex(" ")
        raise ProtocolError(
            f"The image is not a JPEG, PNG or WebP file (it starts with {head or 'nothing'}); send a JPEG snapshot."
        )
    if claimed and claimed != actual:
        raise ProtocolError(f"The image says it is {claimed} but its bytes are {actual}; fix contentType.")
    # Each frame cortex decodes it: a PNG cannot be decoded at a smaller scale, and five of
    # 6000×6000 (105 KB each) took the brain from 373 MB to 1 GB. A header that states no
    # size is left to the cortexes, which refuse what they cannot read.
    size = image_size(data) if max_pixels is not None else None
    if size is not None and size[0] * size[1] > max_pixels:
        raise ProtocolError(
            f"The image is {size[0]}×{size[1]} pixels, over the limit of {max_pixels} "
            "(server.max_image_pixels); send a smaller snapshot."
        )
    return Stimulus(kind="image", image=data, content_type=actual)


def _data_uri(value: object, max_pixels: int | None) -> Stimulus:
    if not isinstance(value, dict):
        raise ProtocolError('"dataURI" must be an object like {"contentType": "image/jpeg", "content": "<base64>"}.')
    content_type, content = value.get("contentType"), value.get("content")
    if not isinstance(content, str) or not content:
        raise ProtocolError('"dataURI.content" must be a non-empty base64 string.')
    if content.startswith("data:"):
        # Accept a whole data: URI too (what canvas.toDataURL gives).
        header, _, content = content.partition(",")
        if not header.endswith(";base64"):
            raise ProtocolError("The data: URI must be base64-encoded (data:image/jpeg;base64,...).")
        content_type = content_type or header[5:].split(";")[0]
    if content_type not in IMAGE_TYPES:
        raise ProtocolError(f'"dataURI.contentType" must be one of {", ".join(IMAGE_TYPES)}, not {content_type!r}.')
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f'"dataURI.content" is not valid base64 ({exc}).') from None
    return _image(data, max_pixels, content_type)


class _Refused:
    """A number from the wire that is not finite or out of bounds, left where it stood so
    that the refusal can name its field (the JSON parser's hooks do not know it)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Numbers:
    """json.loads hooks that bound every number: NaN, Infinity, 1e999 and a 400-digit int
    come back out as JSON a browser cannot parse, or overflow a float() (close 1011)."""

    def __init__(self, max_number: float):
        self.max_number = max_number
        self.refused = False

    def _refuse(self, text: str) -> _Refused:
        self.refused = True
        return _Refused(text)

    def integer(self, text: str) -> int | _Refused:
        if len(text) > _MAX_DIGITS or abs(value := int(text)) > self.max_number:
            return self._refuse(text)
        return value

    def real(self, text: str) -> float | _Refused:
        value = float(text)
        return value if math.isfinite(value) and abs(value) <= self.max_number else self._refuse(text)

    def constant(self, text: str) -> _Refused:  # NaN, Infinity, -Infinity
        return self._refuse(text)


def _refused_number(value: object, max_number: float) -> str:
    """The sentence for the first refused number in `value` (nested at most max_depth)."""
    stack: list[tuple[object, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _Refused):
            shown = item.text if len(item.text) <= 24 else f"{item.text[:20]}… ({len(item.text)} characters)"
            why = "is not a finite number" if item.text.lstrip("-") in ("NaN", "Infinity") else "is out of bounds"
            return (
                f'The number at "{path.lstrip(".")}" ({shown}) {why}: numbers must be finite and within '
                f"±{max_number:.16g} (server.max_number); send a smaller one."
            )
        if isinstance(item, dict):
            stack.extend((child, path + _field(key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(item))))
    return "A number in the message is out of bounds (server.max_number); send smaller ones."


def _shown(key: str) -> str:
    """A key of the eye's, quoted in a sentence: at most 40 characters, a lone surrogate
    written as its escape (\\ud800), so that the sentence can always be sent back."""
    return key[:40].encode("utf-8", "backslashreplace").decode("utf-8")


def _field(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f".{key}"
    return f"[{json.dumps(key[:40])}]"  # (ASCII: a key's lone surrogate cannot spoil the sentence)


def nesting_depth(value: object, limit: int) -> int:
    """How deeply lists and objects nest in `value` (a scalar: 0, {"a": 1}: 1), counted
    level by level (no recursion) up to limit + 1."""
    depth, level = 0, [value]
    while depth <= limit:
        level = [item for item in level if isinstance(item, dict | list)]
        if not level:
            break
        depth += 1
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)]
    return depth


def _json(
    message: str, max_depth: int, commands: frozenset[str] | None, max_number: float, max_pixels: int | None
) -> Stimulus:
    numbers = _Numbers(max_number)
    try:
        value = json.loads(
            message, parse_int=numbers.integer, parse_float=numbers.real, parse_constant=numbers.constant
        )
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            f"The message is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    except ValueError as exc:
        raise ProtocolError(f"The message is not valid JSON ({exc}).") from None
    except RecursionError:
        raise ProtocolError("The JSON is nested too deeply; send a flat object.") from None
    if nesting_depth(value, max_depth) > max_depth:
        # (deeper values once reached the actors and failed there, unseen, while pickled)
        raise ProtocolError(
            f"The JSON is nested more than {max_depth} levels deep (server.max_json_depth); send a flatter object."
        )
    if numbers.refused:
        raise ProtocolError(_refused_number(value, max_number))
    if not isinstance(value, dict):
        raise ProtocolError(
            'A JSON message must be an object with one of the keys "dataURI", "text", "command" or "pose".'
        )
    kinds = [k for k in _KINDS if k in value]
    if len(kinds) != 1:
        found = ", ".join(sorted(_shown(key) for key in list(value)[:10])) + (", …" if len(value) > 10 else "")
        raise ProtocolError(
            f'A JSON message needs exactly one of "dataURI", "text", "command" or "pose" (it had keys: {found or "none"}).'
        )
    kind = kinds[0]
    if kind == "dataURI":
        return _data_uri(value["dataURI"], max_pixels)
    if kind == "text":
        return _text(value["text"])
    if kind == "pose":
        return _pose(value["pose"])
    name = value["command"]
    if not isinstance(name, str) or not name.strip():
        raise ProtocolError('"command" must be a non-empty string, such as "enroll".')
    name = name.strip()
    if commands is not None and name not in commands:
        known = ", ".join(sorted(commands)) or "none"
        raise ProtocolError(f"No cortex of this brain knows the command {name[:40]!r} (known commands: {known}).")
    args = {k: v for k, v in value.items() if k != "command"}
    return Stimulus(kind="command", text=name, args=args)


def _pose(pose: object) -> Stimulus:
    """Privacy mode: the page's own pose estimate instead of the picture.
    {"width": W, "height": H, "people": [{"keypoints": [[x, y, score] × 17]}, …]}"""
    if not isinstance(pose, dict):
        raise ProtocolError('"pose" must be an object with "width", "height" and "people".')
    width, height, people = pose.get("width"), pose.get("height"), pose.get("people")
    for key, size in (("width", width), ("height", height)):
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100_000:
            raise ProtocolError(f'"pose.{key}" must be the frame\'s {key} in pixels, a whole number.')
    if not isinstance(people, list) or len(people) > MAX_PEOPLE:
        raise ProtocolError(f'"pose.people" must be a list of at most {MAX_PEOPLE} people.')
    checked = []
    for i, person in enumerate(people):
        points = person.get("keypoints") if isinstance(person, dict) else None
        if (
            not isinstance(points, list)
            or len(points) != 17
            or not all(
                isinstance(p, list)
                and len(p) == 3
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
                for p in points
            )
        ):
            raise ProtocolError(
                f'"pose.people[{i}].keypoints" must be 17 [x, y, score] in COCO order (nose first, ankles last).'
            )
        checked.append([[float(v) for v in p] for p in points])
    return Stimulus(kind="pose", args={"width": width, "height": height, "people": checked})


def _text(text: object) -> Stimulus:
    if not isinstance(text, str):
        raise ProtocolError(f'"text" must be a string, not {type(text).__name__}.')
    if not text.strip():
        raise ProtocolError("The text is empty; say or type something.")
    return Stimulus(kind="text", text=text.strip())


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds a lone surrogate (from a JSON escape such as \\ud800), which
    UTF-8, and so a websocket, cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_unicode(value: object) -> None:
    """JSON escapes can smuggle lone surrogates in, which no websocket can send back out."""
    if isinstance(value, str):
        if has_lone_surrogate(value):
            raise ProtocolError(
                "The message holds invalid Unicode (a lone surrogate escape such as \\ud800); send real characters."
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key)
            _check_unicode(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_unicode(item)


def is_frame(message: str | bytes) -> bool:
    """Whether a message is a snapshot, judged without parsing it (for rate limits)."""
    return isinstance(message, bytes) or '"dataURI"' in message[:64]


def parse_message(
    message: str | bytes,
    max_bytes: int,
    max_depth: int = 32,
    commands: frozenset[str] | None = None,
    max_number: float = MAX_NUMBER,
    max_image_pixels: int | None = None,
) -> Stimulus:
    """Turn one websocket message into a Stimulus, or raise ProtocolError saying why not.

    `commands`: the command names some cortex understands (None: any name);
    `max_image_pixels`: the most an image's header may state (None: no check here)."""
    stimulus = _parse(message, max_bytes, max_depth, commands, max_number, max_image_pixels)
    if stimulus.kind != "image":
        _check_unicode(stimulus.text)
        _check_unicode(stimulus.args)
    return stimulus


def _parse(
    message: str | bytes,
    max_bytes: int,
    max_depth: int,
    commands: frozenset[str] | None,
    max_number: float,
    max_pixels: int | None,
) -> Stimulus:
    size = len(message) if isinstance(message, bytes) else len(message.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError(
            f"The message is {size} bytes, over the limit of {max_bytes} "
            "(server.max_message_bytes); send smaller snapshots."
        )
    if isinstance(message, bytes):
        return _image(message, max_pixels)
    if message.lstrip().startswith(("{", "[")):
        return _json(message, max_depth, commands, max_number, max_pixels)
    return _text(message)


def encode_output(output: Output) -> bytes:
    """An outbound message as the UTF-8 bytes of its JSON text: the one place an output is
    serialised for an eye. Raises TypeError or ValueError (UnicodeEncodeError for text
    with a lone surrogate, which a websocket would fail to send, closing the eye) when
    the output cannot be sent."""
    return json.dumps(
        {
            "cortex": output.cortex,
            "kind": output.kind,
            "text": output.text,
            "data": output.data,
            "ts": round(output.ts, 3),
        },
        ensure_ascii=False,
        default=str,
        allow_nan=False,
    ).encode("utf-8")


def close_reason(text: str) -> str:
    """A websocket close reason from any text: valid UTF-8 (what cannot be encoded becomes
    "?") of at most 123 bytes (what a close frame holds), cut between characters."""
    return text.encode("utf-8", "replace")[:123].decode("utf-8", "ignore")


def brain_error(text: str, **data: object) -> Output:
    """An error output from the gateway itself (bad input, overload)."""
    return Output(cortex="brain", kind="error", text=text, data=data, ts=time.time())
