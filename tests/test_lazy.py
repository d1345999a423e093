"""Cortexes that start when an eye first needs them (a real brain, the default topology with
`start = "first_stimulus"` in every stanza): a new eye costs its Session alone; its first
picture starts the cortexes that see, and still gets its label; a command starts only the
cortex it is for; a ticker starts with its eye all the same."""

import json

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
    lazy = default_config(tmp / "faces").replace("[[cortex]]\n", '[[cortex]]\nstart = "first_stimulus"\n')
    with running_brain(lazy, tmp) as running:
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
        started = {"objects", "faces", "pose", "learned"}
        assert wait_until(lambda: {n for n, s in states(brain).items() if s == "running"} == started, 10), states(brain)
        for name in started:  # (each said so, once ready)
            eye.seen_or_wait(lambda o: o["data"].get("started") == name, 10)
        eye.send(json.dumps({"text": "hello"}))
        assert eye.wait_for(lambda o: o["kind"] == "echo", 30)["text"].endswith("hello")
        assert wait_until(lambda: states(brain).get("voice") == "running", 10)
        eye.send(json.dumps({"command": "teach.projects"}))  # (learned's, not the gallery's)
        assert eye.wait_for(lambda o: o["kind"] == "teach", 30)["text"].startswith("Projects")
        assert states(brain)["gallery"] == "idle"  # (nor did the faces' emotions start it: its own command does)
        eye.send(json.dumps({"command": "gallery.look", "item": "coffee"}))
        assert wait_until(lambda: states(brain).get("gallery") == "running", 10)
    assert wait_until(lambda: len(brain.processes()) == idle, 30)  # nothing left of it


LAZY = {"start": "first_stimulus"}


def test_which_cortexes_wait_and_for_what():
    cortexes = {
        "cortex": [
            {"name": "objects", "type": "objects", "subscribes": ["image"], "params": {"model": "m"}, **LAZY},
            {"name": "gallery", "type": "gallery", "subscribes": ["command", "label"], **LAZY},
            {"name": "ticker", "type": "ticker", **LAZY},
            {"name": "echo", "type": "echo", "subscribes": ["text"]},
        ],
        "model": [{"name": "m", "path": "models/nanodet.tflite"}],
    }
    specs = {spec.name: spec.wakes_on for spec in parse_config(cortexes).cortexes}
    # a frame starts the detector, only a command the gallery (the faces' emotions are of no use
    # before a visit); a ticker speaks unasked, so it starts with its eye, as any cortex by default
    assert specs == {"objects": ("image",), "gallery": ("command",), "ticker": (), "echo": ()}
