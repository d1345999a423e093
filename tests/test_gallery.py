"""The gallery (issue "Feel", items 2 and 4), on the default topology with the real models: a
scripted visit names the smiled-at picture wherever it comes; bad commands get a sentence and
the session goes on; the eye server serves the pictures."""

import json
import time
import urllib.error
import urllib.request

import pytest
import skimage.data
from PIL import Image

from harness.brains import running_brain
from harness.configs import default_config
from harness.eyes import ready_eye
from harness.labelled_faces import photo
from harness.pictures import ASTRONAUT, CAMERAMAN, frame

ITEMS = ["coffee", "chelsea", "rocket"]
FRAME_S = 0.2  # the page's 5 snapshots a second


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    store = tmp_path_factory.mktemp("gallery") / "faces"
    with running_brain(default_config(store), store.parent) as running:
        yield running


def look(eye, item: str, picture: bytes, seconds: float = 2.0) -> None:
    """`item` on screen for `seconds`, the camera sending `picture` 5 times a second."""
    eye.send(json.dumps({"command": "gallery.look", "item": item}))
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        due = time.monotonic() + FRAME_S
        eye.send(picture)
        time.sleep(max(due - time.monotonic(), 0))  # (the camera's pace, not a wait for an event)


def done(eye) -> dict:
    eye.send(json.dumps({"command": "gallery.done"}))
    return eye.wait_for(lambda o: o["kind"] in ("favourite", "error") and o["cortex"] == "gallery", 30)


def gallery_error(eye, **command) -> str:
    eye.send(json.dumps(command))
    answer = eye.wait_for(lambda o: o["cortex"] == "gallery", 30)
    assert answer["kind"] == "error", answer
    return answer["text"]


@pytest.mark.parametrize("smiled_at", [0, 2])
def test_a_visit_names_the_picture_smiled_at_wherever_it_comes(brain, smiled_at):
    smile, calm = frame(ASTRONAUT), frame(photo("audrey.jpg"))
    with ready_eye(brain, models=6) as eye:
        for i, item in enumerate(ITEMS):
            look(eye, item, smile if i == smiled_at else calm)
        answer = done(eye)
    assert answer["kind"] == "favourite", answer
    data = answer["data"]
    assert data["item"] == ITEMS[smiled_at], data
    assert list(data["items"]) == ITEMS
    best = data["items"][ITEMS[smiled_at]]
    assert best["happy"] > 0.8 and best["attention_s"] > 1.0, data
    assert all(s["happy"] < 0.2 for item, s in data["items"].items() if item != ITEMS[smiled_at]), data
    title = {"coffee": "A cup of coffee", "rocket": "A rocket lifting off"}[ITEMS[smiled_at]]
    assert answer["text"] == f"Your favourite was {title}."


def test_a_visit_with_nobody_in_view_says_so(brain):
    with ready_eye(brain, models=6) as eye:
        cup = frame(Image.fromarray(skimage.data.coffee()))
        for item in ITEMS[:2]:
            look(eye, item, cup, seconds=0.6)
        answer = done(eye)
        assert answer["kind"] == "favourite" and answer["data"]["item"] is None
        assert answer["text"] == "Nobody was watching, so I cannot tell which one you liked."


@pytest.mark.parametrize(
    "command, words",
    [
        ({"command": "gallery.look"}, 'needs "item"'),
        ({"command": "gallery.look", "item": ""}, "a non-empty string"),
        ({"command": "gallery.look", "item": 7}, "a non-empty string"),
        ({"command": "gallery.look", "item": "x" * 5000}, "5000 characters long"),
        ({"command": "gallery.look", "item": "../../etc/passwd"}, "no item '../../etc/passwd' in this gallery"),
        ({"command": "gallery.look", "item": "coffee.png"}, "its items: coffee, chelsea, rocket"),
        ({"command": "gallery.done"}, "No item has been shown"),
    ],
    ids=["missing", "empty", "a number", "huge", "a path", "a file name", "done first"],
)
def test_bad_commands_get_a_sentence_and_the_session_goes_on(brain, command, words):
    with ready_eye(brain, models=6) as eye:
        assert words in gallery_error(eye, **command)
        eye.send("still there?")
        assert eye.wait_for(lambda o: o["kind"] == "echo", 30)["text"] == "still there?"


def test_a_second_done_is_refused_and_the_next_visit_starts_afresh(brain):
    with ready_eye(brain, models=6) as eye:
        look(eye, "coffee", frame(ASTRONAUT), seconds=0.4)
        assert done(eye)["kind"] == "favourite"
        assert "No item has been shown" in gallery_error(eye, command="gallery.done")
        look(eye, "rocket", frame(ASTRONAUT), seconds=0.4)
        assert list(done(eye)["data"]["items"]) == ["rocket"]


def test_the_eye_server_serves_the_pictures(brain):
    with urllib.request.urlopen(brain.url + "/gallery/items", timeout=10) as answer:
        items = json.load(answer)["items"]
    assert [i["id"] for i in items] == ["coffee", "chelsea", "rocket", "hubble_deep_field", "motorcycle_left"]
    with urllib.request.urlopen(brain.url + items[0]["url"], timeout=10) as answer:
        assert answer.headers["Content-Type"] == "image/png" and answer.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(brain.url + "/gallery/items/nope", timeout=10)
    assert refused.value.code == 404 and b"see /gallery/items" in refused.value.read()
    with urllib.request.urlopen(brain.url + "/gallery", timeout=10) as answer:
        assert b"Cortical gallery" in answer.read()


def test_each_known_person_gets_their_own_favourite(tmp_path):
    pair = Image.new("RGB", (1024, 512))
    pair.paste(ASTRONAUT, (0, 0))  # Eileen, smiling
    pair.paste(CAMERAMAN, (512, 0))  # somebody nobody enrolled, frowning
    with running_brain(default_config(tmp_path / "faces"), tmp_path) as brain, ready_eye(brain, models=6) as eye:
        eye.send(frame(ASTRONAUT))
        eye.wait_for(lambda o: o["kind"] == "faces", 60)
        eye.send(json.dumps({"command": "enroll", "name": "Eileen"}))
        eye.wait_for(lambda o: o["kind"] == "enrolled", 30)
        look(eye, "rocket", frame(CAMERAMAN), seconds=2.0)
        look(eye, "coffee", frame(pair), seconds=2.0)
        answer = done(eye)
    assert answer["data"]["item"] == "coffee" and answer["data"]["people"] == {"Eileen": "coffee"}, answer["data"]
    assert answer["text"] == "Your favourite was A cup of coffee. Eileen's was A cup of coffee."
