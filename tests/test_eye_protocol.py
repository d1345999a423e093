"""One eye's connection rules, without sockets or a clock (brain/eye_protocol.py)."""

import dataclasses
import json

from actors.messages import Output
from brain.config import ServerConfig
from brain.eye_protocol import TOKEN_WAIT_S, Close, Counted, EyeProtocol, Forward, Phase, Reply

SERVER = ServerConfig(max_frames_per_s=2.0, max_messages_per_s=5.0, idle_timeout_s=30.0, max_inflight_bytes=65536)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def kinds(actions):
    return [type(a).__name__ for a in actions]


def replies(actions):
    return [a.output.text for a in actions if isinstance(a, Reply)]


def test_a_message_is_parsed_counted_and_forwarded():
    eye = EyeProtocol(SERVER, now=0.0)
    actions = eye.receive("hello", 0.1)
    assert actions == [Counted("messages_in", "text"), Forward(actions[1].stimulus, 5)]
    assert actions[1].stimulus.text == "hello"


def test_bad_input_is_answered_and_counted_as_invalid():
    actions = EyeProtocol(SERVER, now=0.0).receive('{"text": 42}', 0.1)
    assert actions[0] == Counted("messages_in", "invalid")
    assert replies(actions) == ['"text" must be a string, not int.']


def test_a_frame_flood_is_capped_and_said_once_in_five_seconds():
    eye = EyeProtocol(SERVER, now=0.0)
    outcomes = [eye.receive(JPEG, 0.0) for _ in range(10)]
    assert sum(isinstance(o[-1], Forward) for o in outcomes) == 4  # a burst of twice the rate
    told = [replies(o) for o in outcomes if replies(o)]
    assert told == [["You are sending more than 2 snapshots a second; the extra ones were dropped. Slow down."]]
    assert all(Counted("dropped", "rate_limit") in o for o in outcomes[4:])
    assert isinstance(eye.receive("text has its own bucket", 0.0)[-1], Forward)
    later = [eye.receive(JPEG, 5.0) for _ in range(5)]  # the bucket refilled to its burst of 4...
    assert [bool(replies(o)) for o in later] == [False] * 4 + [True]  # ...and 5 s on, it is said again


def test_an_idle_eye_is_closed_with_the_reason():
    eye = EyeProtocol(SERVER, now=0.0)
    eye.receive("hi", 10.0)
    assert eye.deadline() == 40.0
    assert eye.tick(39.9) == []
    assert eye.tick(40.0) == [Close(1000, "Idle for 30 s; reconnect to go on.")]
    assert eye.phase is Phase.CLOSED and eye.receive("too late", 41.0) == []


def test_the_token_may_come_in_the_url_or_as_the_first_message():
    in_url = EyeProtocol(SERVER, 0.0, token="letmein")
    assert in_url.start("letmein", 0.0) == [] and in_url.phase is Phase.OPEN
    first = EyeProtocol(SERVER, 0.0, token="letmein")
    assert first.start("", 0.0) == [] and first.phase is Phase.AWAITING_TOKEN
    assert first.receive(json.dumps({"token": "letmein"}), 1.0) == [] and first.phase is Phase.OPEN
    assert EyeProtocol(SERVER, 0.0).phase is Phase.OPEN  # no token configured


def test_a_wrong_missing_or_late_token_closes_with_1008():
    refused = [
        Counted("refused", "token"),
        Close(1008, "Missing or wrong token: open the page with ?token=… as given to you."),
    ]
    assert EyeProtocol(SERVER, 0.0, token="letmein").start("nope", 0.0) == refused
    assert EyeProtocol(SERVER, 0.0, token="letmein").receive("hello", 1.0) == refused
    assert EyeProtocol(SERVER, 0.0, token="letmein").receive('{"token": ' + "[" * 5000 + "]" * 5000 + "}", 1) == refused
    late = EyeProtocol(SERVER, 0.0, token="letmein")
    late.start("", 0.0)
    assert late.deadline() == TOKEN_WAIT_S and late.tick(TOKEN_WAIT_S) == refused


def test_a_token_with_a_lone_surrogate_is_a_wrong_token():
    """Review of issue 22's work, finding 8: offered.encode() raised UnicodeEncodeError, which
    escaped receive(): websockets logged a traceback and closed the eye with 1011."""
    refused = [
        Counted("refused", "token"),
        Close(1008, "Missing or wrong token: open the page with ?token=… as given to you."),
    ]
    assert EyeProtocol(SERVER, 0.0, token="letmein").receive('{"token": "\\ud800"}', 1.0) == refused
    assert EyeProtocol(SERVER, 0.0, token="letmein").receive('{"token": "letmein\\udfff"}', 1.0) == refused
    assert EyeProtocol(SERVER, 0.0, token="letmein").start("\ud800", 0.0) == refused
    opened = EyeProtocol(SERVER, 0.0, token="l\u00e9tmein")  # (a token beyond ASCII still opens)
    assert opened.receive(json.dumps({"token": "l\u00e9tmein"}), 1.0) == [] and opened.phase is Phase.OPEN


def test_reading_stops_while_too_many_bytes_are_on_their_way():
    eye = EyeProtocol(SERVER, now=0.0)
    big = "x" * 40_000
    eye.receive(big, 0.0)
    assert eye.reading()
    eye.receive(big, 0.1)
    assert not eye.reading()  # 80,000 bytes in flight, over 65,536
    eye.sent(40_000)
    assert eye.reading()


def test_outputs_queue_and_the_oldest_go_when_full():
    eye = EyeProtocol(dataclasses.replace(SERVER, outbound_queue=2), now=0.0)
    assert kinds(eye.reply(Output("echo", "echo", "1"))) == ["Reply"]
    eye.reply(Output("echo", "echo", "2"))
    assert eye.reply(Output("echo", "echo", "3"))[-1] == Counted("dropped", "slow_eye", 1)
    assert [json.loads(eye.outbox.pop())["text"] for _ in range(2)] == ["2", "3"]


def test_an_output_too_big_or_unencodable_becomes_an_error_sentence():
    eye = EyeProtocol(dataclasses.replace(SERVER, outbound_queue_bytes=65536), now=0.0)
    assert eye.reply(Output("echo", "echo", "x" * 100_000))[-1] == Counted("dropped", "slow_eye", 1)
    assert "was too big to send" in json.loads(eye.outbox.pop())["text"]
    eye.reply(Output("odd", "thing", "", {"bad": float("nan")}))
    assert "could not be encoded (ValueError)" in json.loads(eye.outbox.pop())["text"]


def test_an_output_with_a_lone_surrogate_becomes_an_error_and_the_queue_holds_only_utf8():
    eye = EyeProtocol(SERVER, now=0.0)
    eye.reply(Output("events", "event", "door \ud800"))
    eye.reply(Output("echo", "echo", "fine"))
    sent = [eye.outbox.pop() for _ in range(2)]
    assert all(isinstance(s, bytes) for s in sent)  # encoded once, here: the writer cannot fail
    error = json.loads(sent[0])
    assert error["kind"] == "error" and "invalid Unicode" in error["text"] and "events" in error["text"]
    assert json.loads(sent[1])["text"] == "fine"


def test_a_huge_number_from_the_eye_is_answered_not_raised():
    eye = EyeProtocol(SERVER, now=0.0)
    people = '[{"keypoints": [[' + "9" * 400 + ", 1, 1]" + ", [1, 1, 1]" * 16 + "]}]"
    actions = eye.receive('{"pose": {"width": 640, "height": 480, "people": ' + people + "}}", 0.1)
    assert actions[0] == Counted("messages_in", "invalid")
    assert "pose.people[0].keypoints[0][0]" in replies(actions)[0]
