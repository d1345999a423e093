"""The bad-input corpus: every case gets an error that says what was wrong, and the
session keeps working afterwards — on the real default brain with its real models."""

import base64
import json

import pytest
import skimage.data
from websockets.exceptions import ConnectionClosed

from tests.helpers import default_config, jpeg, png_claiming, running_brain

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
        "No cortex of this brain knows the command 'dance' (known commands: enroll, faces, forget, "
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


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    with running_brain(default_config(tmp / "faces"), tmp) as running:
        yield running


def test_the_corpus_is_big_enough():
    assert len({name for name, _, _ in CORPUS}) >= 30


def test_every_bad_input_is_explained_and_the_session_goes_on(brain):
    with brain.eye(max_size=None) as eye:
        eye.wait_ready()
        for name, message, words in CORPUS:
            eye.send(message)
            error = eye.wait_for(lambda o: o["kind"] == "error" and words in o["text"], 30)
            assert error["text"].rstrip().endswith("."), (name, error["text"])
            eye.send(f"still here after {name}")
            assert eye.wait_for(lambda o: o["kind"] == "echo", 30)["text"] == f"still here after {name}"
        eye.send(PHOTO)  # and the cortexes still see
        assert eye.wait_for(lambda o: o["kind"] == "label", 30)["text"].startswith("person (")


def test_invalid_utf8_in_a_text_frame_closes_only_that_connection(brain):
    with brain.eye() as other, brain.eye() as eye:
        other.wait_ready()
        eye.wait_ready()
        eye.ws.send(b"\xff\xfe not UTF-8", text=True)  # RFC 6455 requires failing this connection
        with pytest.raises(ConnectionClosed) as closed:
            eye.wait_for(lambda o: False, 10)
        assert closed.value.rcvd.code == 1007
        assert other.ask("unaffected")["text"] == "unaffected"
