"""Property tests of the protocol parser: whatever arrives, the answer is a Stimulus or a
ProtocolError with a sentence — never another exception — and what a cortex could echo
back from it can always be encoded for the eye."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.messages import Output
from brain.protocol import ProtocolError, encode_output, parse_message

LIMIT = 4096

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
messages = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.builds(lambda v: json.dumps(v), json_values),
    st.builds(lambda k, v: json.dumps({k: v}), st.sampled_from(["text", "command", "dataURI"]), json_values),
    st.builds(lambda v: json.dumps({"command": "enroll", "name": v}), json_values),
    st.builds(
        lambda ct, c: json.dumps({"dataURI": {"contentType": ct, "content": c}}),
        st.sampled_from(["image/jpeg", "image/png", "image/webp", "text/plain", ""]),
        st.text(max_size=80),
    ),
    st.builds(lambda b: b"\xff\xd8\xff" + b, st.binary(max_size=100)),
)


def check(message):
    try:
        stimulus = parse_message(message, LIMIT)
    except ProtocolError as exc:
        sentence = str(exc)
        assert (sentence[:1].isupper() or sentence[:1] == '"') and sentence.rstrip().endswith("."), sentence
        return
    assert stimulus.kind in ("text", "image", "command")
    echoed = Output("echo", "echo", stimulus.text, {"args": stimulus.args})
    json.loads(encode_output(echoed))  # what the page will JSON.parse


@settings(max_examples=400, deadline=None)
@given(messages)
def test_any_message_gets_a_stimulus_or_a_sentence(message):
    check(message)


def test_known_traps():
    for trap in [
        '{"text": "\\ud800"}',
        '{"command": "x", "n": NaN}',
        '{"command": "x", "n": 1e999}',
        '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"command": "x", "\\udfff": 1}',
        '{"command": "x", "n": ' + "9" * 5000 + "}",  # (past Python's 4,300-digit int limit too)
        '{"pose": {"width": 640, "height": 480, "people": [{"keypoints": [[' + "9" * 400 + ", 1, 1]" + "]}]}}",
        '{"command": "x", "n": -Infinity, "\\ud800": 1}',
    ]:
        check(trap)
