"""Real MoveNet (lightning, thunder, multipose) on real photos, then the pose cortex in a
real brain: keypoints in the frame's pixels, head direction, gestures, and silence for a
frame with nobody in it."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageOps

from actors.cortexes.pose.body import INDEX, KEYPOINTS, head
from actors.imaging import decode_for_model
from actors.models.recipes import RECIPES
from harness import ROOT
from harness.brains import running_brain
from harness.configs import at_connect
from harness.configs import models as model_stanzas
from harness.pictures import ASTRONAUT, CAMERAMAN, frame, jpeg

COFFEE = Image.fromarray(skimage.data.coffee())
MIRRORED_CAMERAMAN = ImageOps.mirror(CAMERAMAN)


def crowd(image: Image.Image, columns: int, rows: int) -> Image.Image:
    """The same person many times over, in one photo."""
    tile = image.resize((160, 160))
    out = Image.new("RGB", (160 * columns, 160 * rows))
    for i in range(columns * rows):
        out.paste(tile, (160 * (i % columns), 160 * (i // columns)))
    return out


@pytest.fixture(scope="module")
def models():
    from actors.models.tfjs import TfjsGraphModel

    return {
        kind: TfjsGraphModel(ROOT / "models" / f"{name}.json", batchable=False)
        for kind, name in [
            ("movenet", "movenet-lightning"),
            ("movenet-thunder", "movenet-thunder"),
            ("movenet-multipose", "movenet-multipose"),
        ]
    }


def people_in(models, kind: str, image: Image.Image, threshold: float = 0.2) -> list[np.ndarray]:
    recipe = RECIPES[kind]
    pixels, width, height = decode_for_model(frame(image), recipe.input_size, 10**8, padded=True)
    outputs = models[kind](recipe.preprocess(pixels[None]))
    people = recipe.decode([o[0] for o in outputs], threshold)
    for person in people:
        person[:, :2] *= max(width, height)
    return people


@pytest.mark.parametrize("kind", ["movenet", "movenet-thunder", "movenet-multipose"])
def test_the_cameraman_looks_down_toward_the_right_of_the_image(models, kind):
    (person,) = people_in(models, kind, CAMERAMAN)
    nose = person[INDEX["nose"]]
    assert 230 < nose[0] < 330 and 120 < nose[1] < 200, nose  # his face, in the photo's 512² pixels
    direction = head(person, 0.3)
    assert direction["yaw"] > 0.35 and direction["pitch"] > 0.35, direction  # into his viewfinder
    (mirrored,) = people_in(models, kind, MIRRORED_CAMERAMAN)
    assert head(mirrored, 0.3)["yaw"] < -0.35


@pytest.mark.parametrize("kind", ["movenet", "movenet-thunder"])
def test_a_portrait_looks_ahead(models, kind):
    (person,) = people_in(models, kind, ASTRONAUT)
    direction = head(person, 0.3)
    assert abs(direction["yaw"]) < 0.2 and abs(direction["pitch"]) < 0.3, direction


def test_multipose_finds_people_left_to_right_and_single_pose_one(models):
    pair = Image.new("RGB", (1024, 512))
    pair.paste(ASTRONAUT, (0, 0))
    pair.paste(CAMERAMAN, (512, 0))
    astronaut, cameraman = people_in(models, "movenet-multipose", pair)
    assert astronaut[INDEX["nose"], 0] < 512 < cameraman[INDEX["nose"], 0]
    assert len(people_in(models, "movenet", pair)) == 1


def test_nobody_and_twenty_people_neither_crash_nor_invent(models):
    assert people_in(models, "movenet", COFFEE) == []
    assert people_in(models, "movenet-multipose", COFFEE) == []
    many = people_in(models, "movenet-multipose", crowd(CAMERAMAN, 5, 4))
    assert len(many) <= 6  # what the model can hold; never more
    assert len(people_in(models, "movenet", crowd(CAMERAMAN, 5, 4))) <= 1


def test_a_batch_runs_as_a_loop_and_equals_one_by_one(models):
    recipe = RECIPES["movenet"]
    images = [decode_for_model(frame(i), recipe.input_size, 10**8, padded=True)[0] for i in (ASTRONAUT, CAMERAMAN)]
    batch = models["movenet"](recipe.preprocess(np.stack(images)))
    one = [models["movenet"](recipe.preprocess(i[None]))[0][0] for i in images]
    assert np.allclose(batch[0], np.stack(one), atol=1e-5)


POSE = at_connect(f"""
[eye]
snapshot_every_ms = 200

{model_stanzas("pose")}

[[cortex]]
name = "pose"
type = "pose"
subscribes = ["image"]
[cortex.params]
model = "pose"
infer_timeout_ms = 60000
min_keypoints = 5
[[cortex.params.gestures]]
name = "peek"
text = "peeking"
all = ["head.yaw > 0.35", "head.pitch > 0.35"]
""")


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    with running_brain(POSE, tmp_path_factory.mktemp("pose")) as running:
        yield running


def test_the_pose_cortex_says_nothing_of_nobody_then_names_a_pose_and_its_gestures(brain):
    with brain.eye(max_size=None) as eye:
        eye.wait_for(lambda o: o["kind"] == "status" and o["data"].get("state") == "ready", 120)
        eye.send(jpeg(np.asarray(COFFEE)))
        eye.send("not an image")  # (an error output: the session goes on)
        eye.wait_for(lambda o: o["kind"] == "error")
        for _ in range(4):  # four frames in a row: three agree within a second
            eye.send(frame(CAMERAMAN))
            pose = eye.wait_for(lambda o: o["kind"] == "pose", 60)
        first = next(o for o in eye.seen if o["kind"] == "pose")
        assert first["data"]["width"] == 512  # the cameraman's, not the coffee's: nobody, no output
        (person,) = pose["data"]["people"]
        assert list(person["keypoints"]) == list(KEYPOINTS)
        x, y, score = person["keypoints"]["nose"]
        assert 230 < x < 330 and 120 < y < 200 and 0 <= score <= 1
        assert person["head"]["yaw"] > 0.35 and person["head"]["pitch"] > 0.35
        # He bends toward his camera, at the image's right: his own left.
        assert {"look_left", "look_down", "lean_left", "peek"} <= set(person["gestures"])
        assert pose["text"].startswith("1 person: ")
        events = [o for o in eye.seen if o["kind"] == "gesture"]
        assert sorted(e["data"]["gesture"] for e in events) == ["lean_left", "look_down", "look_left", "peek"], events
        assert {e["text"] for e in events} == {"leaning left", "looking down", "looking left", "peeking"}
        # Every gesture is this person's: their id (the same in every frame) and a box around them.
        assert {o["data"]["people"][0]["id"] for o in eye.seen if o["kind"] == "pose"} == {person["id"]}
        assert all(e["data"]["person"] == person["id"] and e["data"]["name"] is None for e in events)
        assert all(0 <= e["data"]["box"][0] < x < e["data"]["box"][2] for e in events)
