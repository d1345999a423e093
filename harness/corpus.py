"""The bad-input corpus: messages an eye may send that the brain must refuse with an error
that says what was wrong (tests/test_corpus.py sends them to a real brain; so does the
outside probe, bench/probe.py)."""

import base64
import json

import skimage.data

from harness.pictures import jpeg, png_claiming

PHOTO = jpeg(skimage.data.astronaut())
b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731

# (name, message, words the error must contain). Gateway errors come from "brain",
# image errors from the cortexes that decode images (objects, faces).
CORPUS = [
    # (first: no image has been sent yet)
    (
        "teach with no frame",
        json.dumps({"command": "teach.sample", "project": "p", "label": "l"}),
        "I have not seen a frame in the last few seconds",
    ),
    ("teach a bad project name", json.dumps({"command": "teach.sample", "project": "../x"}), "name is 1 to 40"),
    ("use an untrained project", json.dumps({"command": "teach.use", "project": "nothing"}), "no trained version"),
    ("malformed JSON", '{"text": "hi"', "not valid JSON"),
    ("truncated JSON", '{"dataURI": {"contentType": "image/jpeg", "content": "/9j/', "not valid JSON"),
    ("JSON array", "[1, 2, 3]", "must be an object"),
    ("empty object", "{}", 'exactly one of "dataURI", "text", "command" or "pose"'),
    ("unknown kind", '{"smell": "roses"}', "exactly one of"),
    ("two kinds", '{"text": "a", "command": "b"}', "exactly one of"),
    ("text is a number", '{"text": 42}', '"text" must be a string, not int'),
    ("text is a list", '{"text": ["a"]}', '"text" must be a string, not list'),
    ("text is null", '{"text": null}', '"text" must be a string, not NoneType'),
    ("empty text", '{"text": ""}', "The text is empty"),
    ("blank message", "   ", "The text is empty"),
    ("empty command", '{"command": ""}', '"command" must be a non-empty string'),
    ("command is a number", '{"command": 7}', '"command" must be a non-empty string'),
    ("dataURI is a string", '{"dataURI": "abc"}', '"dataURI" must be an object'),
    ("dataURI without content", '{"dataURI": {"contentType": "image/jpeg"}}', "non-empty base64"),
    ("bad base64", '{"dataURI": {"contentType": "image/jpeg", "content": "%%%"}}', "not valid base64"),
    ("base64 bad padding", '{"dataURI": {"contentType": "image/jpeg", "content": "abc"}}', "not valid base64"),
    ("unsupported type", '{"dataURI": {"contentType": "image/gif", "content": "R0lGOD=="}}', '"dataURI.contentType"'),
    (
        "mislabelled image",
        json.dumps({"dataURI": {"contentType": "image/png", "content": b64(PHOTO)}}),
        "says it is image/png but its bytes are image/jpeg",
    ),
    (
        "base64 of text",
        json.dumps({"dataURI": {"contentType": "image/jpeg", "content": b64(b"hello")}}),
        "not a JPEG, PNG or WebP",
    ),
    ("data: URI not base64", '{"dataURI": {"content": "data:image/jpeg,abc"}}', "must be base64-encoded"),
    ("lone surrogate", '{"text": "\\ud800"}', "invalid Unicode"),
    ("NaN", '{"command": "pause", "for": NaN}', 'The number at "for" (NaN) is not a finite number'),
    ("huge number", '{"command": "pause", "for": 1e999}', 'The number at "for" (1e999) is out of bounds'),
    (
        "a 400-digit keypoint",
        '{"pose": {"width": 640, "height": 480, "people": [{"keypoints": [['
        + "9" * 400
        + ", 1, 1]"
        + ", [1, 1, 1]" * 16
        + "]}]}}",
        '"pose.people[0].keypoints[0][0]"',
    ),
    ("a key that is half a character", '{"\\ud800": 1}', "(it had keys: \\ud800)"),
    ("deep nesting", '{"text": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ("huge string", "x" * 2_000_001, "over the limit of 2000000 (server.max_message_bytes)"),
    ("huge binary", b"\xff\xd8\xff" + b"\x00" * 2_000_000, "over the limit of 2000000"),
    ("binary junk", b"\x00\x01\x02\x03 junk", "not a JPEG, PNG or WebP"),
    ("empty binary", b"", "not a JPEG, PNG or WebP"),
    ("RIFF but not WebP", b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a JPEG, PNG or WebP"),
    ("truncated JPEG", PHOTO[: len(PHOTO) // 3], "truncated or corrupt"),
    ("JPEG magic, junk body", b"\xff\xd8\xff\xe0" + b"\x13" * 500, "truncated or corrupt"),
    ("PNG over max_image_pixels", png_claiming(6000, 6000), "6000×6000 pixels, over the limit of 16777216"),
    ("decompression bomb", png_claiming(100_000, 100_000), "(server.max_image_pixels)"),
    ("enrol with a huge name", json.dumps({"command": "enroll", "name": "x" * 5000}), "use at most 60"),
    ("enrol with no frame", json.dumps({"command": "enroll", "name": "Nobody"}), "have not seen a frame"),
    ("forget someone unknown", json.dumps({"command": "forget", "name": "Nobody"}), "I do not know 'Nobody'."),
    (
        "unknown command",
        '{"command": "dance"}',
        "No cortex of this brain knows the command 'dance' (known commands: enroll, faces, forget, gallery.done, gallery.look, "
        "teach.forget, teach.projects, teach.sample, teach.train, teach.use)",
    ),
    (
        "arguments nested deep",
        '{"command": "enroll", "name": ' + "[" * 600 + "]" * 600 + "}",
        "nested more than 32 levels deep (server.max_json_depth)",
    ),
    (
        "a name with a bidi override",
        json.dumps({"command": "enroll", "name": "Ada\u202eecilA"}),
        "invisible character (U+202E)",
    ),
]
