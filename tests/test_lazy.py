"""Cortexes that start when an eye first needs them (a real brain, the default topology: every
stanza starts at its first stimulus unless it says `start = "connect"`): a new eye costs its
Session alone; its first picture starts the cortexes that see, and still gets its label; a
command starts only the cortex it is for, and a teach.sample still finds the picture sent
before it; a ticker starts with its eye all the same."""

import json
import time

import pytest
import skimage.data

from brain.config import parse_config
from harness.brains import brain_state, running_brain
from harness.configs import default_config
from harness.pictures import jpeg
from harness.waits import wait_until


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lazy")
    with running_brain(default_config(tmp / "faces"), tmp) as running:
        yield running


def states(brain) -> dict[str, str]:
    sessions = brain_state(brain)["sessions"]
    return {c["name"]: c["state"] for c in sessions[0]["cortexes"]} if sessions else {}


def test_an_eye_starts_only_what_it_uses_and_loses_nothing_meanwhile(brain):
    idle = len(brain.processes())
    with brain.eye("lazy") as eye:
        ready = eye.wait_ready(30)
        assert set(ready["data"]["cortexes"]) >= {"objects", "learned", "gallery"}  # (all named, for the page)
        assert wait_until(lambda: set(states(brain).values()) == {"idle"}, 10), states(brain)
        assert len(brain.processes()) == idle + 1  # its Session alone
        eye.send(jpeg(skimage.data.coffee()))
        label = eye.wait_for(lambda o: o["kind"] == "label", 60)  # (the first picture, read where it waited)
        assert label["text"].startswith("cup")
        started = {"objects", "faces", "pose"}  # (not learned: it waits for a teach command)
        assert wait_until(lambda: {n for n, s in states(brain).items() if s == "running"} == started, 10), states(brain)
        for name in started:  # (each said so, once ready)
            eye.seen_or_wait(lambda o: o["data"].get("started") == name, 10)
        eye.send(json.dumps({"text": "hello"}))
        assert eye.wait_for(lambda o: o["kind"] == "echo", 30)["text"].endswith("hello")
        assert wait_until(lambda: states(brain).get("voice") == "running", 10)
        assert states(brain)["learned"] == "idle"
        eye.send(jpeg(skimage.data.astronaut()))
        eye.wait_for(lambda o: o["kind"] == "label" and not o["text"].startswith("cup"), 60)
        # The page's order: a snapshot, then teach.sample; learned starts on the command and
        # samples the frame its Session kept while it waited.
        eye.send(json.dumps({"command": "teach.sample", "project": "lazy", "label": "astronaut"}))
        teach = eye.wait_for(lambda o: o["kind"] in ("teach", "error") and o["cortex"] == "learned", 30)
        assert teach["text"] == "astronaut: 1 sample.", teach
        assert states(brain)["learned"] == "running"
        assert states(brain)["gallery"] == "idle"  # (nor did teach nor the faces' emotions start it)
        eye.send(json.dumps({"command": "gallery.look", "item": "coffee"}))
        assert wait_until(lambda: states(brain).get("gallery") == "running", 10)
    assert wait_until(lambda: len(brain.processes()) == idle, 30)  # nothing left of it


def test_a_picture_held_too_long_for_a_waiting_cortex_is_no_sample(brain):
    """The Session keeps an eye's latest picture for learned until a teach command starts it;
    a picture older than learned's sample_max_age_s (3 s) by then is refused as a sample,
    as it would be had learned run all along (the camera may be off since)."""
    with brain.eye("stale") as eye:
        eye.wait_ready(30)
        eye.send(jpeg(skimage.data.astronaut()))
        eye.wait_for(lambda o: o["kind"] == "label", 60)
        time.sleep(3.5)  # (the time that makes it stale: nothing to wait on but the clock)
        eye.send(json.dumps({"command": "teach.sample", "project": "stale", "label": "astronaut"}))
        teach = eye.wait_for(lambda o: o["kind"] in ("teach", "error") and o["cortex"] == "learned", 30)
        assert teach["kind"] == "error" and teach["text"].startswith("I have not seen a frame"), teach
        eye.send(jpeg(skimage.data.coffee()))  # (a fresh one is, and the session goes on)
        eye.wait_for(lambda o: o["kind"] == "label" and o["text"].startswith("cup"), 60)
        eye.send(json.dumps({"command": "teach.sample", "project": "stale", "label": "cup"}))
        teach = eye.wait_for(lambda o: o["kind"] in ("teach", "error") and o["cortex"] == "learned", 30)
        assert teach["text"] == "cup: 1 sample.", teach


LAZY = {"start": "first_stimulus"}


def test_which_cortexes_wait_and_for_what():
    cortexes = {
        "cortex": [
            {"name": "objects", "type": "objects", "subscribes": ["image"], "params": {"model": "m"}, **LAZY},
            {"name": "gallery", "type": "gallery", "subscribes": ["command", "label"], **LAZY},
            {"name": "ticker", "type": "ticker", **LAZY},
            {"name": "learned", "type": "learned", "subscribes": ["image", "command"]},
            {"name": "echo", "type": "echo", "subscribes": ["text"], "start": "connect"},
        ],
        "model": [{"name": "m", "path": "models/nanodet.tflite"}],
    }
    specs = {spec.name: (spec.wakes_on, spec.holds) for spec in parse_config(cortexes).cortexes}
    # a frame starts the detector, only a command the gallery (the faces' emotions are of no use
    # before a visit) and learned (which keeps the latest frame meanwhile, for teach.sample); a
    # ticker speaks unasked, so it starts with its eye, as does a stanza that says so
    assert specs == {
        "objects": (("image",), ()),
        "gallery": (("command",), ()),
        "ticker": ((), ()),
        "learned": (("command",), ("image",)),
        "echo": ((), ()),
    }


def test_what_wakes_a_waiting_cortex():
    from actors.messages import Stimulus
    from actors.sessions.session import wakes

    (learned, gallery) = (
        spec
        for spec in parse_config(
            {
                "cortex": [
                    {"name": "learned", "type": "learned", "subscribes": ["image", "command"]},
                    {"name": "gallery", "type": "gallery", "subscribes": ["command"]},
                ]
            }
        ).cortexes
    )
    picture, sample = Stimulus("image", image=b"jpeg"), Stimulus("command", "teach.sample")
    assert not wakes(learned, picture)  # (held: the latest is handed over when it starts)
    assert wakes(learned, sample)
    assert not wakes(learned, Stimulus("command", "gallery.look"))  # (another cortex's command)
    assert wakes(gallery, Stimulus("command", "gallery.look")) and not wakes(gallery, sample)


BROKEN_AT_FIRST_USE = """
[[model]]
name = "objects"
kind = "nanodet"
path = "{path}"
format = "tflite"
load = "first_use"

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "objects"
type = "objects"
subscribes = ["image"]
"""


def test_a_model_that_cannot_load_at_its_first_use_is_a_sentence_and_the_brain_goes_on(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model" * 100)  # (the config checks that it exists, not what it holds)
    with running_brain(BROKEN_AT_FIRST_USE.format(path=broken), tmp_path) as brain, brain.eye("lazy") as eye:
        eye.wait_ready(30)
        for _ in range(2):  # (the second is refused at once: the holder does not try again)
            eye.send(jpeg(skimage.data.coffee()))
            error = eye.wait_for(lambda o: o["kind"] == "error" and o["cortex"] == "objects", 60)
            assert "could not load" in error["text"] and "restart the brain" in error["text"], error
        assert eye.ask("still here")["text"] == "still here"
        with brain.eye("another") as another:
            assert another.ask("and another")["text"] == "and another"
