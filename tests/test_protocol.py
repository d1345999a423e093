"""The wire protocol parser, without sockets: each inbound form and each bad input."""

import base64
import json
import re

import pytest

from actors.messages import Output
from brain.config import ServerConfig
from brain.http_routes import host_allowed, needs_token, token_given
from brain.protocol import ProtocolError, encode_output, nesting_depth, parse_message
from harness.pictures import JPEG, PNG, WEBP

LIMIT = 10_000


def parse(message):
    return parse_message(message, LIMIT)


def test_plain_text_is_a_transcript():
    stimulus = parse("  what is this?  ")
    assert (stimulus.kind, stimulus.text) == ("text", "what is this?")


def test_json_text():
    assert parse(json.dumps({"text": "hello"})).text == "hello"


@pytest.mark.parametrize("data, content_type", [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp")])
def test_binary_images_are_sniffed(data, content_type):
    stimulus = parse(data)
    assert (stimulus.kind, stimulus.content_type, stimulus.image) == ("image", content_type, data)


def test_seed_data_uri_form():
    message = {"dataURI": {"contentType": "image/jpeg", "content": base64.b64encode(JPEG).decode()}}
    stimulus = parse(json.dumps(message))
    assert (stimulus.kind, stimulus.image) == ("image", JPEG)


def test_whole_data_uri_in_content_is_accepted():
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    stimulus = parse(json.dumps({"dataURI": {"content": uri}}))
    assert (stimulus.content_type, stimulus.image) == ("image/png", PNG)


def test_command_keeps_its_arguments():
    stimulus = parse(json.dumps({"command": "enroll", "name": "Olivier"}))
    assert (stimulus.kind, stimulus.text, stimulus.args) == ("command", "enroll", {"name": "Olivier"})


@pytest.mark.parametrize(
    "message, words",
    [
        ('{"text": "hi"', "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ('{"colour": "red"}', 'exactly one of "dataURI", "text", "command" or "pose"'),
        ('{"text": "a", "command": "b"}', "exactly one of"),
        ('{"text": 42}', '"text" must be a string'),
        ('{"text": "   "}', "empty"),
        ("", "empty"),
        ('{"command": ""}', '"command" must be a non-empty string'),
        ('{"dataURI": "abc"}', '"dataURI" must be an object'),
        ('{"dataURI": {"contentType": "image/jpeg", "content": "@@@not base64@@@"}}', "not valid base64"),
        ('{"dataURI": {"contentType": "image/gif", "content": "R0lGOD=="}}', "contentType"),
        ('{"dataURI": {"contentType": "image/jpeg"}}', "non-empty base64"),
        (
            json.dumps({"dataURI": {"contentType": "image/png", "content": base64.b64encode(JPEG).decode()}}),
            "says it is image/png but its bytes are image/jpeg",
        ),
        (
            json.dumps({"dataURI": {"contentType": "image/jpeg", "content": base64.b64encode(b"hello").decode()}}),
            "not a JPEG, PNG or WebP",
        ),
        (b"\x00\x01binary junk", "not a JPEG, PNG or WebP"),
        (b"", "not a JPEG, PNG or WebP"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a JPEG, PNG or WebP"),
    ],
)
def test_bad_input_is_explained(message, words):
    with pytest.raises(ProtocolError, match=re.escape(words)):
        parse(message)


def test_size_limit_counts_utf8_bytes():
    parse("é" * (LIMIT // 2))  # exactly at the limit
    with pytest.raises(ProtocolError, match=r"10002 bytes, over the limit of 10000 \(server.max_message_bytes\)"):
        parse("é" * (LIMIT // 2 + 1))
    with pytest.raises(ProtocolError, match="over the limit"):
        parse(JPEG + b"\x00" * LIMIT)


def test_output_encoding_is_the_documented_shape():
    encoded = json.loads(encode_output(Output("echo", "echo", "café", {"n": 1}, ts=12.3456)))
    assert encoded == {"cortex": "echo", "kind": "echo", "text": "café", "data": {"n": 1}, "ts": 12.346}


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("127.0.0.1:8080", True),
        ("localhost:8080", True),
        ("[::1]:8080", True),
        ("192.168.1.20", True),
        ("", True),  # no Host: not a browser
        ("evil.example:8093", False),
        ("LOCALHOST.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("brain.home.arpa:8080", True),
        ("Brain.Home.Arpa", True),
    ],
)
def test_the_host_header_must_name_this_brain(host, allowed):
    assert host_allowed(host, ["brain.home.arpa"]) is allowed


@pytest.mark.parametrize(
    "value, depth",
    [(1, 0), ({}, 1), ({"a": 1}, 1), ({"a": [1, {"b": []}]}, 4), ([[[[]]]], 4), ({"a": 1, "b": [[[]]]}, 4)],
)
def test_nesting_depth(value, depth):
    assert nesting_depth(value, limit=10) == depth


def test_nesting_depth_stops_counting_past_the_limit():
    deep = []
    for _ in range(100_000):  # far deeper than recursion could go
        deep = [deep]
    assert nesting_depth(deep, limit=32) == 33


def test_arguments_nested_too_deep_are_refused_before_they_reach_an_actor():
    nested = '{"command": "enroll", "name": ' + "[" * 40 + "]" * 40 + "}"
    with pytest.raises(ProtocolError, match=r"nested more than 32 levels deep \(server.max_json_depth\)"):
        parse_message(nested, LIMIT)
    assert parse_message('{"command": "enroll", "name": ' + "[" * 31 + "]" * 31 + "}", LIMIT).text == "enroll"


def test_an_unknown_command_is_refused_with_the_known_ones():
    known = frozenset({"enroll", "forget"})
    with pytest.raises(ProtocolError) as caught:
        parse_message('{"command": "dance"}', LIMIT, commands=known)
    assert str(caught.value) == "No cortex of this brain knows the command 'dance' (known commands: enroll, forget)."
    assert parse_message('{"command": " enroll "}', LIMIT, commands=known).text == "enroll"
    assert parse_message('{"command": "dance"}', LIMIT).text == "dance"  # None: any command


def test_a_pose_from_the_page_is_a_stimulus_and_a_bad_one_a_sentence():
    person = {"keypoints": [[10.0, 20.0, 0.9]] * 17}
    stimulus = parse_message(json.dumps({"pose": {"width": 640, "height": 480, "people": [person]}}), 10**6)
    assert stimulus.kind == "pose" and stimulus.args["width"] == 640 and len(stimulus.args["people"][0]) == 17
    for pose, words in [
        ("x", '"pose" must be an object'),
        ({"width": 0, "height": 480, "people": []}, '"pose.width" must be'),
        ({"width": 640, "height": True, "people": []}, '"pose.height" must be'),
        ({"width": 640, "height": 480, "people": [person] * 7}, "at most 6 people"),
        ({"width": 640, "height": 480, "people": [{"keypoints": [[1, 2]] * 17}]}, "17 [x, y, score]"),
        ({"width": 640, "height": 480, "people": [{"keypoints": [[1, 2, "a"]] * 17}]}, "17 [x, y, score]"),
    ]:
        with pytest.raises(ProtocolError, match=re.escape(words)):
            parse_message(json.dumps({"pose": pose}), 10**6)


# -- numbers: every one on the wire is finite and bounded, refused naming its field -----

HUGE = "9" * 400


@pytest.mark.parametrize(
    "message, field",
    [
        (
            '{"pose": {"width": 640, "height": 480, "people": [{"keypoints": [['
            + HUGE
            + ", 1, 1]"
            + ", [1, 1, 1]" * 16
            + "]}]}}",
            "pose.people[0].keypoints[0][0]",
        ),
        ('{"command": "pause", "for": ' + HUGE + "}", "for"),
        ('{"command": "pause", "for": -' + HUGE + "}", "for"),
        ('{"command": "pause", "for": 9007199254740992}', "for"),
        ('{"command": "pause", "args": {"n": [1, 2, 1e300]}}', "args.n[2]"),
        ('{"command": "pause", "for": 1e999}', "for"),
        ('{"command": "pause", "for": NaN}', "for"),
        ('{"command": "pause", "for": -Infinity}', "for"),
        ('{"command": "pause", "odd key!": 1e400}', '["odd key!"]'),
        ('{"command": "pause", "' + "k" * 5000 + '": 1e400}', "k" * 40),
    ],
)
def test_a_number_out_of_bounds_is_refused_naming_its_field(message, field):
    with pytest.raises(ProtocolError) as refused:
        parse_message(message, 10**6)
    sentence = str(refused.value)
    assert f'"{field}' in sentence and "server.max_number" in sentence and sentence.endswith("."), sentence
    assert len(sentence) < 300, sentence


def test_numbers_within_bounds_pass_and_the_bound_is_a_setting():
    stimulus = parse_message('{"command": "pause", "for": 9007199254740991, "x": -1.5e15, "y": 0.25}', 10**6)
    assert stimulus.args == {"for": 9007199254740991, "x": -1.5e15, "y": 0.25}
    with pytest.raises(ProtocolError, match=r"±1000 \(server.max_number\)"):
        parse_message('{"command": "pause", "for": 1001}', 10**6, max_number=1000)


# -- images: absurd dimensions are refused from the header, before any cortex decodes ----


def test_an_image_with_too_many_pixels_is_refused_from_its_header():
    from harness.pictures import png_claiming

    with pytest.raises(ProtocolError) as refused:
        parse_message(png_claiming(6000, 6000), 10**6, max_image_pixels=16_777_216)
    assert str(refused.value) == (
        "The image is 6000×6000 pixels, over the limit of 16777216 (server.max_image_pixels); send a smaller snapshot."
    )
    assert parse_message(png_claiming(4096, 4096), 10**6, max_image_pixels=16_777_216).kind == "image"
    assert parse_message(JPEG, 10**6, max_image_pixels=1).kind == "image"  # no size in its header: the cortex judges


# -- outputs: what cannot be encoded never reaches a websocket --------------------------


def test_an_output_that_is_not_valid_unicode_cannot_be_encoded():
    with pytest.raises(UnicodeEncodeError):
        encode_output(Output("events", "event", "door \ud800"))
    assert isinstance(encode_output(Output("echo", "echo", "café")), bytes)


def test_a_close_reason_is_valid_utf8_of_at_most_123_bytes():
    from brain.protocol import close_reason

    assert close_reason("bye") == "bye"
    assert close_reason("lost \ud800 here") == "lost ? here"
    long = close_reason("é" * 200)
    assert len(long.encode()) <= 123 and long == "é" * 61


# -- which paths need the eye token, and how it may be given ------------------------------


def test_metrics_need_the_token_and_health_does_not_by_default():
    default, strict = ServerConfig(), ServerConfig(metrics_need_token=False, health_needs_token=True)
    assert [needs_token(p, default) for p in ("/metrics", "/health", "/", "/models/x.bin")] == [
        True,
        False,
        False,
        False,
    ]
    assert [needs_token(p, strict) for p in ("/metrics", "/health")] == [False, True]


@pytest.mark.parametrize(
    "token, target, authorization, given",
    [
        ("", "/metrics", "", True),  # no token set: nothing to give
        ("letmein", "/metrics", "", False),
        ("letmein", "/metrics?token=letmein", "", True),
        ("letmein", "/metrics?token=nope", "", False),
        ("letmein", "/metrics", "Bearer letmein", True),
        ("letmein", "/metrics", "Bearer nope", False),
        ("letmein", "/metrics", "letmein", False),  # (a bare header is not a bearer token)
        ("letmein", "/metrics?token=", "Bearer ", False),
    ],
)
def test_the_token_may_come_in_the_query_or_as_a_bearer(token, target, authorization, given):
    assert token_given(token, target, authorization) is given
