"""The real brain end to end: eye → Session → Cortex → eye over a real websocket."""

import base64
import json
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed

from harness.brains import running_brain
from harness.pictures import JPEG, PNG
from harness.waits import wait_until


def test_ready_status_names_the_cortexes_and_eye_settings(brain):
    with brain.eye() as eye:
        first = eye.recv()
        assert (first["cortex"], first["kind"]) == ("brain", "status")
        ready = eye.wait_ready()
        assert ready["data"]["cortexes"] == ["echo", "ticker"]
        assert ready["data"]["eye"]["snapshot_every_ms"] == 1000


def test_echo_round_trip(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        reply = eye.ask("hello brain")
        assert (reply["cortex"], reply["kind"], reply["text"]) == ("echo", "echo", "hello brain")
        assert eye.ask(json.dumps({"text": "and JSON"}))["text"] == "and JSON"
        assert set(reply) == {"cortex", "kind", "text", "data", "ts"}


def test_text_sent_before_ready_is_not_lost(brain):
    # The gateway's first stimulus and the supervisor's OpenSession race to the new
    # Session; before the Session kept early stimuli, about 1 in 8 was lost.
    for attempt in range(20):
        with brain.eye() as eye:
            eye.send(f"early words {attempt}")
            reply = eye.wait_for(lambda o: o["kind"] == "echo")
            assert reply["text"] == f"early words {attempt}"


def test_ticker_pushes_arrive_unasked(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        ticks = [eye.wait_for(lambda o: o["kind"] == "tick", timeout=5) for _ in range(3)]
        assert [t["data"]["count"] for t in ticks] == [1, 2, 3]
        assert all(t["cortex"] == "ticker" for t in ticks)


def test_binary_frames_reach_the_cortex(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        reply = eye.ask(JPEG)
        assert (reply["cortex"], reply["kind"]) == ("echo", "image")
        assert reply["data"] == {"bytes": len(JPEG), "content_type": "image/jpeg"}


def test_seed_data_uri_frames_reach_the_cortex(brain):
    message = {"dataURI": {"contentType": "image/png", "content": base64.b64encode(PNG).decode()}}
    with brain.eye() as eye:
        eye.wait_ready()
        reply = eye.ask(json.dumps(message))
        assert reply["data"] == {"bytes": len(PNG), "content_type": "image/png"}


def test_commands_reach_the_cortex_with_their_args(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        reply = eye.ask(json.dumps({"command": "pause", "for_s": 3}))
        assert (reply["text"], reply["data"]) == ("command pause", {"args": {"for_s": 3}})


BAD_INPUTS = [
    ('{"text": "unterminated', "not valid JSON"),
    ('{"smell": "roses"}', 'exactly one of "dataURI", "text", "command" or "pose"'),
    ('{"dataURI": {"contentType": "image/jpeg", "content": "%%%"}}', "not valid base64"),
    (b"\x00\x01\x02 not an image", "not a JPEG, PNG or WebP"),
    ('{"text": ["a", "list"]}', '"text" must be a string'),
    ("x" * 70_000, "over the limit of 65536 (server.max_message_bytes)"),
    (JPEG + b"\x00" * 70_000, "over the limit of 65536"),
]


@pytest.mark.parametrize("message, words", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_gets_an_error_and_the_session_stays_up(brain, message, words):
    with brain.eye() as eye:
        eye.wait_ready()
        error = eye.ask(message)
        assert (error["cortex"], error["kind"]) == ("brain", "error")
        assert words in error["text"]
        assert error["text"].endswith(".")
        # The same connection and session still work.
        assert eye.ask("still there?")["text"] == "still there?"


def test_all_bad_inputs_in_a_row_lose_nothing(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        for message, _ in BAD_INPUTS:
            eye.send(message)
        eye.send("after the storm")
        seen = [eye.wait_for(lambda o: o["kind"] in ("error", "echo")) for _ in range(len(BAD_INPUTS) + 1)]
        assert [o["kind"] for o in seen] == ["error"] * len(BAD_INPUTS) + ["echo"]
        assert seen[-1]["text"] == "after the storm"


def test_a_message_past_close_over_bytes_closes_only_that_connection(brain):
    with brain.eye() as other:
        other.wait_ready()
        with brain.eye() as eye:
            eye.wait_ready()
            eye.send(b"\xff\xd8\xff" + b"\x00" * 300_000)
            with pytest.raises(ConnectionClosed) as closed:
                eye.wait_for(lambda o: False)
            assert closed.value.rcvd.code == 1009  # message too big
        assert other.ask("unaffected")["text"] == "unaffected"


def test_sessions_are_separate(brain):
    with brain.eye() as a, brain.eye() as b:
        a.wait_ready()
        b.wait_ready()
        a.send("for a")
        b.send("for b")
        assert a.wait_for(lambda o: o["kind"] == "echo")["text"] == "for a"
        assert b.wait_for(lambda o: o["kind"] == "echo")["text"] == "for b"


def test_page_health_and_no_path_escape(brain):
    page = urllib.request.urlopen(brain.url + "/").read().decode()
    assert "<title>Cortical" in page and 'src="eye.js"' in page
    script = urllib.request.urlopen(brain.url + "/eye.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    health = json.load(urllib.request.urlopen(brain.url + "/health"))
    assert health["status"] == "ok"
    for path in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/.gitignore", "/nope.js"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(brain.url + path)
        assert missing.value.code == 404


def test_unrouted_kinds_are_explained(tmp_path):
    text_only = '[[cortex]]\nname = "echo"\ntype = "echo"\nsubscribes = ["text"]\n'
    with running_brain(text_only, tmp_path) as only_text, only_text.eye() as eye:
        eye.wait_ready()
        error = eye.ask(JPEG)
        assert error["kind"] == "error" and "No cortex in this brain's config takes image" in error["text"]
        eye.send(JPEG)  # said once per session, not once per frame
        assert eye.ask("hi")["kind"] == "echo"


NAPPER = """
[server]
max_messages_per_s = 100000.0
outbound_queue = 5000         # (this eye reads its outputs only once it has sent them all)

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "napper"
type = "harness.cortexes:Napper"
subscribes = ["text"]
"""


def test_a_cortex_that_stops_reading_gets_everything_in_order_and_the_others_go_on(tmp_path):
    # Its pipe fills while it sleeps: the gateway then sends its stimuli to the Session,
    # which sends them on as messages, for good; the cortex reads its pipe before each.
    sent, wake = 800, tmp_path / "wake"  # (a pipe holds a few hundred small ones)
    with running_brain(NAPPER, tmp_path) as brain, brain.eye() as eye:
        eye.wait_ready()
        eye.send(f"nap until {wake}")
        for n in range(sent):
            eye.send(f"n{n}")
        assert wait_until(lambda: "the napper cortex's pipe is full; its stimuli go as messages" in brain.log, 30)
        wake.touch()
        got = []
        while len(got) < sent:
            got.append(eye.wait_for(lambda o: o["kind"] == "napper", timeout=30)["text"])
        assert got == [f"n{n}" for n in range(sent)]
        eye.send("still here?")  # the echo cortex, and the brain, go on (past its 800 echoes)
        eye.wait_for(lambda o: o["kind"] == "echo" and o["text"] == "still here?", 30)


# The napper hears the echo cortex's "echo" outputs, not the eye's text.
LISTENING = NAPPER.replace('Napper"\nsubscribes = ["text"]', 'Napper"\nsubscribes = ["echo"]')


def test_a_cortex_hears_another_cortexs_outputs_in_order_even_through_a_full_pipe(tmp_path):
    # brain/listening.py: the napper subscribes to the echo cortex's "echo" outputs. It naps
    # first, so its pipe fills and the rest goes by its Session, still in order.
    sent, wake = 600, tmp_path / "wake"
    with running_brain(LISTENING, tmp_path) as brain, brain.eye() as eye:
        eye.wait_ready()
        eye.send(f"nap until {wake}")
        eye.wait_for(lambda o: o["kind"] == "echo" and o["text"].startswith("nap until"), 30)
        for n in range(sent):
            eye.send(f"n{n}")
        eye.wait_for(lambda o: o["kind"] == "echo" and o["text"] == f"n{sent - 1}", 60)  # the eye has them too
        wake.touch()
        got = []
        while len(got) < sent:
            got.append(eye.wait_for(lambda o: o["kind"] == "napper", timeout=30)["text"])
        assert got == [f"n{n}" for n in range(sent)]
        eye.send("still here?")
        eye.wait_for(lambda o: o["kind"] == "napper" and o["text"] == "still here?", 30)
