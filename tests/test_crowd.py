"""Everyone in view (issue "Crowd"), on the default topology with the real models: two people
side by side keep two ids, and each person's gestures are theirs alone."""

import json

import pytest
from PIL import Image, ImageOps

from harness.brains import running_brain
from harness.configs import default_config
from harness.eyes import ready_eye
from harness.pictures import ASTRONAUT, CAMERAMAN, frame
from harness.poses import person

PAIR = Image.new("RGB", (1024, 512))
PAIR.paste(ASTRONAUT, (0, 0))  # looking ahead: no gesture
PAIR.paste(CAMERAMAN, (512, 0))  # bent toward his camera: looking left and down, leaning, peeking
HIS = {"look_left", "look_down", "lean_left", "peek"}
ARMS_UP = {"left_elbow": (385, 110), "right_elbow": (255, 110), "left_wrist": (390, 50), "right_wrist": (250, 50)}


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    store = tmp_path_factory.mktemp("crowd") / "faces"
    with running_brain(default_config(store), store.parent) as running:
        yield running


def test_two_people_side_by_side_keep_their_ids_and_their_own_gestures(brain):
    with ready_eye(brain, models=6) as eye:
        pair = frame(PAIR)
        two = []
        for _ in range(40):  # until the objects cortex's boxes have reached the pose cortex
            eye.send(pair)
            pose = eye.wait_for(lambda o: o["kind"] == "pose", 60)
            if len(pose["data"]["people"]) == 2:
                two.append(pose)
            if len(two) == 6:
                break
        assert len(two) == 6, "two people were never told apart"
        # (The first frame with the detector's boxes may hand on the id of the one blended
        # person the whole frame gave before them; from then on, the ids hold.)
        two = two[1:]
        ids = [[p["id"] for p in o["data"]["people"]] for o in two]
        assert all(i == ids[0] for i in ids) and ids[0][0] != ids[0][1], ids  # the same two, left to right
        left, right = ids[0]
        for output in two:
            astronaut, cameraman = output["data"]["people"]
            assert astronaut["box"][2] < 600 < cameraman["box"][0] + 200  # each where they stand
            assert not HIS & set(astronaut["gestures"]), astronaut["gestures"]  # a neighbour's never count
        assert HIS & set(two[-1]["data"]["people"][1]["gestures"])
        events = [o for o in eye.seen if o["kind"] == "gesture"]
        assert not [e for e in events if e["data"]["person"] == left], events
        assert any(e["data"]["person"] == right for e in events), events


def test_two_people_raising_and_lowering_their_arms_are_one_event_for_the_one_raising(brain):
    # Privacy mode's path: the page's own poses, two people (the brain tracks them as its own).
    up = person(**ARMS_UP)
    down = person()
    down[:, 0] += 300
    people = [{"keypoints": up.tolist()}, {"keypoints": down.tolist()}]
    with ready_eye(brain, models=6) as eye:
        for _ in range(8):  # more frames than the three that make the event: still one event
            eye.send(json.dumps({"pose": {"width": 800, "height": 600, "people": people}}))
            pose = eye.wait_for(lambda o: o["kind"] == "pose", 30)
        raising, lowered = pose["data"]["people"]
        assert raising["gestures"] == ["arms_up"] and lowered["gestures"] == []
        eye.seen_or_wait(lambda o: o["kind"] == "gesture", 10)
        eye.send("still there?")  # (the echo answers after the gestures: everything before is in)
        eye.wait_for(lambda o: o["kind"] == "echo", 10)
        events = [o for o in eye.seen if o["kind"] == "gesture"]
        assert [(e["data"]["gesture"], e["data"]["person"]) for e in events] == [("arms_up", raising["id"])]
        assert events[0]["data"]["box"][2] < lowered["box"][0]


def test_a_known_face_names_its_person_and_their_gestures(brain):
    with ready_eye(brain, models=6) as eye:
        for picture, name in ((ASTRONAUT, "Eileen"), (CAMERAMAN, "Ansel")):
            eye.send(frame(picture))
            eye.wait_for(lambda o: o["kind"] == "faces" and o["data"]["faces"], 60)
            eye.send(json.dumps({"command": "enroll", "name": name}))
            eye.wait_for(lambda o: o["kind"] == "enrolled", 30)
        pair = frame(PAIR)
        for _ in range(40):  # until the faces cortex's names have reached the pose cortex
            eye.send(pair)
            pose = eye.wait_for(lambda o: o["kind"] == "pose", 60)
            if [p["name"] for p in pose["data"]["people"]] == ["Eileen", "Ansel"]:
                break
        assert [p["name"] for p in pose["data"]["people"]] == ["Eileen", "Ansel"], pose["data"]["people"]
        # He turns the other way (his photo mirrored, where he stands): gestures that start now
        # are a named person's. (His id, and so his name, stays with him.)
        turned = Image.new("RGB", (1024, 512))
        turned.paste(ASTRONAUT, (0, 0))
        turned.paste(ImageOps.mirror(CAMERAMAN), (512, 0))
        for _ in range(5):
            eye.send(frame(turned))
            eye.wait_for(lambda o: o["kind"] == "pose", 60)
        gesture = eye.seen_or_wait(lambda o: o["kind"] == "gesture" and o["data"]["name"] == "Ansel", 30)
        assert gesture["text"].startswith("Ansel: ") and gesture["data"]["gesture"] in HIS | {
            "look_right",
            "lean_right",
        }


def _grid(count: int, columns: int) -> Image.Image:
    """`count` small people in a grid (96 pixels each in a 640×480 frame)."""
    out = Image.new("RGB", (640, 480), (90, 90, 90))
    rows = -(-count // columns)
    width, height = 640 // columns, 480 // rows
    side = min(width, height)
    for i in range(count):
        picture = ASTRONAUT if i % 2 else CAMERAMAN
        out.paste(picture.resize((side, side)), ((i % columns) * width, (i // columns) * height))
    return out


def _cut() -> Image.Image:
    """One person half outside the frame's left edge, one cut by its right edge."""
    out = Image.new("RGB", (640, 480), (90, 90, 90))
    out.paste(CAMERAMAN.resize((480, 480)), (-240, 0))
    out.paste(ASTRONAUT.resize((480, 480)), (400, 0))
    return out


def _mirror() -> Image.Image:
    out = Image.new("RGB", (1024, 512))
    out.paste(CAMERAMAN, (0, 0))
    out.paste(ImageOps.mirror(CAMERAMAN), (512, 0))
    return out


def _poster() -> Image.Image:
    """A small picture of a person on a wall."""
    out = Image.new("RGB", (640, 480), (200, 190, 170))
    out.paste(ASTRONAUT.resize((160, 160)), (380, 60))
    return out


@pytest.mark.parametrize(
    "scene, people",
    [(_grid(30, 6), range(6, 7)), (_cut(), range(0, 3)), (_mirror(), range(2, 3)), (_poster(), range(0, 2))],
    ids=["thirty people", "cut by the edges", "a mirror", "a poster"],
)
def test_hard_scenes_give_clear_outputs_and_no_event_storm(brain, scene, people):
    with ready_eye(brain, models=6) as eye:
        picture = frame(scene)
        outputs = []
        for _ in range(5):  # one at a time, as a slow eye sends: each frame waits for its boxes
            eye.send(picture)
            outputs.append(eye.wait_for(lambda o: o["kind"] in ("pose", "error"), 60))
        eye.send("still there?")
        eye.wait_for(lambda o: o["kind"] == "echo", 30)
        assert not [o for o in eye.seen if o["kind"] == "error"]
        counts = [len(o["data"]["people"]) for o in outputs]
        assert all(count in people for count in counts), counts  # (30: max_people, from the first frame)
        assert len({tuple(p["id"] for p in o["data"]["people"]) for o in outputs}) == 1  # ids hold
        for output in outputs:
            for p in output["data"]["people"]:
                x1, y1, x2, y2 = p["box"]
                assert 0 <= x1 < x2 <= scene.width and 0 <= y1 < y2 <= scene.height, p["box"]
        events = [(o["data"]["person"], o["data"]["gesture"]) for o in eye.seen if o["kind"] == "gesture"]
        assert len(events) == len(set(events)), events  # one event per person per gesture at most
