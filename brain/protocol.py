"""The eye ⇄ brain wire protocol, as pure functions (no sockets, no actors).

Inbound (one websocket message each):
  - binary: raw JPEG / PNG / WebP bytes;
  - JSON {"dataURI": {"contentType": "image/jpeg", "content": "<base64>"}} (the seed's form);
  - JSON {"text": "..."} or any non-JSON text message: a transcript or typed text;
  - JSON {"command": "<name>", ...}: a control; the other fields travel as its args.
Outbound: JSON {"cortex", "kind", "text", "data", "ts"}.
"""

from __future__ import annotations

import base64
import binascii
import json
import time

from actors.messages import Output, Stimulus

__all__ = ["ProtocolError", "parse_message", "is_frame", "encode_output", "brain_error", "nesting_depth", "IMAGE_TYPES"]

#: content type → magic bytes at the start of the file
IMAGE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),  # plus "WEBP" at offset 8, checked below
}
_KINDS = ("dataURI", "text", "command", "pose")
MAX_PEOPLE = 6


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


def _image(data: bytes, claimed: str | None = None) -> Stimulus:
    actual = sniff_image(data)
    if actual is None:
        head = data[:8].hex(" ")
        raise ProtocolError(
            f"The image is not a JPEG, PNG or WebP file (it starts with {head or 'nothing'}); send a JPEG snapshot."
        )
    if claimed and claimed != actual:
        raise ProtocolError(f"The image says it is {claimed} but its bytes are {actual}; fix contentType.")
    return Stimulus(kind="image", image=data, content_type=actual)


def _data_uri(value: object) -> Stimulus:
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
    return _image(data, content_type)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large a number")
    return number


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


def _json(message: str, max_depth: int, commands: frozenset[str] | None) -> Stimulus:
    try:
        # NaN, Infinity and 1e999 would come back out as JSON a browser cannot parse.
        value = json.loads(message, parse_constant=_no_constant, parse_float=_finite)
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
    if not isinstance(value, dict):
        raise ProtocolError(
            'A JSON message must be an object with one of the keys "dataURI", "text", "command" or "pose".'
        )
    kinds = [k for k in _KINDS if k in value]
    if len(kinds) != 1:
        found = ", ".join(sorted(map(str, value))) or "none"
        raise ProtocolError(
            f'A JSON message needs exactly one of "dataURI", "text", "command" or "pose" (it had keys: {found}).'
        )
    kind = kinds[0]
    if kind == "dataURI":
        return _data_uri(value["dataURI"])
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


def _check_unicode(value: object) -> None:
    """JSON escapes can smuggle lone surrogates in, which no websocket can send back out."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(
                "The message holds invalid Unicode (a lone surrogate escape such as \\ud800); send real characters."
            ) from None
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
    message: str | bytes, max_bytes: int, max_depth: int = 32, commands: frozenset[str] | None = None
) -> Stimulus:
    """Turn one websocket message into a Stimulus, or raise ProtocolError saying why not.

    `commands`: the command names some cortex understands (None: any name)."""
    stimulus = _parse(message, max_bytes, max_depth, commands)
    if stimulus.kind != "image":
        _check_unicode(stimulus.text)
        _check_unicode(stimulus.args)
    return stimulus


def _parse(message: str | bytes, max_bytes: int, max_depth: int, commands: frozenset[str] | None) -> Stimulus:
    size = len(message) if isinstance(message, bytes) else len(message.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError(
            f"The message is {size} bytes, over the limit of {max_bytes} "
            "(server.max_message_bytes); send smaller snapshots."
        )
    if isinstance(message, bytes):
        return _image(message)
    if message.lstrip().startswith(("{", "[")):
        return _json(message, max_depth, commands)
    return _text(message)


def encode_output(output: Output) -> str:
    """The JSON text of an outbound message."""
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
    )


def brain_error(text: str, **data: object) -> Output:
    """An error output from the gateway itself (bad input, overload)."""
    return Output(cortex="brain", kind="error", text=text, data=data, ts=time.time())
