"""What crosses the eye's websocket and HTTP (issue 22, items 3, 4, 8 and 11): text no
websocket can carry, numbers no browser can hold, absurd images. After every refusal the
brain still answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.helpers import png_claiming, running_brain

ECHO = '[[cortex]]\nname = "echo"\ntype = "echo"\nsubscribes = ["text", "image", "command", "pose"]\n'
MUMBLER = '[[cortex]]\nname = "mumbler"\ntype = "tests.cortexes:Mumbler"\nsubscribes = ["text"]\n'


def config(**server) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in server.items())
    return f"[server]\n{lines}\n\n{ECHO}"


def still_answers(brain) -> None:
    with brain.eye() as eye:
        eye.wait_ready()
        assert eye.ask("still here?")["text"] == "still here?"


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wire")
    with running_brain(f"{config()}\n{MUMBLER}", tmp, env={"CORTICAL_EVENTS_TOKEN": "ring"}) as running:
        yield running


# -- item 3: a lone surrogate -------------------------------------------------------------


def post_event(brain, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{brain.events_port}/events", data=body, headers={"Authorization": "Bearer ring"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_an_event_with_a_lone_surrogate_is_refused_and_no_eye_is_closed(brain):
    with brain.eye() as a, brain.eye() as b:
        a.wait_ready()
        b.wait_ready()
        status, answer = post_event(brain, b'{"text": "door \\ud800", "to": "all"}')
        assert status == 400 and "invalid Unicode" in answer["error"] and answer["error"].endswith("."), answer
        assert post_event(brain, b'{"text": "Someone is at the door", "to": "all"}') == (202, {"delivered": 2})
        for eye in (a, b):
            assert eye.wait_for(lambda o: o["kind"] == "event")["text"] == "Someone is at the door"
            assert eye.ask("still here?")["text"] == "still here?"


def test_an_output_with_a_lone_surrogate_becomes_an_error_and_the_eye_stays(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        eye.send("mumble")  # the mumbler cortex answers with half a character
        error = eye.wait_for(lambda o: o["kind"] == "error")
        assert error["cortex"] == "brain" and "mumbler" in error["text"] and "invalid Unicode" in error["text"]
        eye.send('{"\\ud800": 1}')  # the gateway's own answer quotes that key, escaped
        assert "(it had keys: \\ud800)." in eye.wait_for(lambda o: o["kind"] == "error")["text"]
        eye.send("plain")  # (the echo of "mumble" may come after the mumbler's answer: no order between cortexes)
        assert eye.wait_for(lambda o: o["kind"] == "echo" and o["text"] == "plain")


# -- item 4: numbers ----------------------------------------------------------------------


def test_a_400_digit_keypoint_is_refused_naming_its_field_and_the_eye_stays(brain):
    keypoints = "[[" + "9" * 400 + ", 1, 1]" + ", [1, 1, 1]" * 16 + "]"
    with brain.eye() as eye:
        eye.wait_ready()
        eye.send('{"pose": {"width": 640, "height": 480, "people": [{"keypoints": ' + keypoints + "}]}}")
        error = eye.wait_for(lambda o: o["kind"] == "error")
        assert '"pose.people[0].keypoints[0][0]"' in error["text"] and "server.max_number" in error["text"]
        assert eye.ask("still here?")["text"] == "still here?"


# -- item 11: absurd image dimensions ----------------------------------------------------


def test_an_image_of_absurd_dimensions_is_refused_before_any_cortex_decodes_it(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        eye.send(png_claiming(6000, 6000))
        error = eye.wait_for(lambda o: o["kind"] in ("error", "image"))
        assert error["kind"] == "error" and error["cortex"] == "brain", error
        assert "6000×6000 pixels" in error["text"] and "server.max_image_pixels" in error["text"]
        assert eye.ask(png_claiming(64, 48))["kind"] == "image"  # (the echo cortex says what it got)
