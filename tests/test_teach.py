"""Teach it, for real: samples from the eye, a real head trained on real features from
photos (and variants of them made here), hot-loaded while another eye is served, kept
across a restart, and every refusal a sentence."""

from __future__ import annotations

import json
import time

import numpy as np
import psutil
import pytest
import skimage.data
from PIL import Image

from harness.brains import running_brain
from harness.configs import at_connect, models
from harness.pictures import ASTRONAUT, CAMERAMAN, frame, variant
from harness.processes import process_title
from harness.waits import wait_until

TEACH = at_connect("""
[server]
max_frames_per_s = 200.0
max_messages_per_s = 400.0

{models}

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "learned"
type = "learned"
subscribes = ["image", "command"]
params = {{ store_dir = "{store}", infer_timeout_ms = 60000, min_samples_per_class = 4, max_epochs = 60, min_p = 0.6 }}
""")

# The default topology's choice: the image features load at their first use.
FIRST_USE = models("pose", "image-features").replace(
    'path = "models/centernet-embedding.tflite"', 'path = "models/centernet-embedding.tflite"\nload = "first_use"'
)

PHOTOS = {
    "cup": Image.fromarray(skimage.data.coffee()),
    "cat": Image.fromarray(skimage.data.chelsea()),
    "rocket": Image.fromarray(skimage.data.rocket()),
}


def ready(brain):
    """An eye once its session is ready and the learned cortex has both models, in either
    order (with the models loaded already, their statuses may come first)."""
    eye = brain.eye(max_size=None)

    def done() -> bool:
        models = {o["data"]["model"] for o in eye.seen if o["data"].get("state") == "ready"}
        return len(models) >= 2 and any(o["kind"] == "status" and o["data"].get("ready") for o in eye.seen)

    deadline = time.monotonic() + 120
    while not done():
        eye.recv(max(0.1, deadline - time.monotonic()))
    return eye


def command(eye, kinds=("teach", "error"), timeout=30, **fields) -> dict:
    eye.send(json.dumps(fields))
    return eye.wait_for(lambda o: o["cortex"] == "learned" and o["kind"] in kinds, timeout)


def sample(eye, project: str, label: str, image: Image.Image) -> dict:
    eye.send(frame(image))
    return command(eye, command="teach.sample", project=project, label=label)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("teach-store")


def test_teach_train_and_use_image_classes_while_another_eye_is_served(store, tmp_path):
    rng = np.random.default_rng(7)
    with (
        running_brain(TEACH.format(store=store, models=FIRST_USE), tmp_path) as brain,
        ready(brain) as eye,
        ready(brain) as other,
    ):
        # (image-features loads at its first use: when the project below is used)
        assert any("image-features on CPU (at its first use)" in line for line in brain.log_lines)
        # Refusals first: each is a sentence, and the session goes on.
        assert "have not seen a frame" in command(eye, command="teach.sample", project="things", label="cup")["text"]
        assert "name is 1 to 40" in sample(eye, "../up", "cup", PHOTOS["cup"])["text"]
        assert "no samples" in command(eye, command="teach.train", project="things", features="image")["text"]
        for label, photo in PHOTOS.items():
            for _ in range(12):
                answer = sample(eye, "things", label, variant(photo, rng))
                assert answer["kind"] == "teach", answer
        assert answer["data"]["counts"] == {"cat": 12, "cup": 12, "rocket": 12}
        bad = command(eye, command="teach.train", project="things", features="smell")
        assert 'features must be "pose" or "image"' in bad["text"]

        command(eye, kinds=("training",), command="teach.train", project="things", features="image")
        again = command(eye, kinds=("error",), command="teach.train", project="things", features="image")
        assert "training already" in again["text"]
        # Another eye is served while the trainer works.
        assert other.ask("still here")["text"] == "still here"
        progress = eye.wait_for(lambda o: o["kind"] == "training" and o["data"].get("epoch", 0) >= 1, 120)
        assert 0 <= progress["data"]["val_accuracy"] <= 1 and progress["data"]["epochs"] == 60
        trained = eye.wait_for(lambda o: o["kind"] in ("trained", "error") and o["cortex"] == "learned", 300)
        assert trained["kind"] == "trained", trained
        data = trained["data"]
        assert data["labels"] == ["cat", "cup", "rocket"]
        assert len(data["confusion"]) == 3 and all(len(row) == 3 for row in data["confusion"])
        assert sum(map(sum, data["confusion"])) == 6  # 15 % of 12, of each class, held out
        assert data["val_accuracy"] >= 0.8, data

        using = command(eye, command="teach.use", project="things")
        assert using["text"].startswith("Using things (version 1): cat, cup, rocket")
        assert not any("loaded image-features at its first use" in line for line in brain.log_lines)
        for label, photo in PHOTOS.items():  # held-out variants, never seen in training
            eye.send(frame(variant(photo, rng)))
            output = eye.wait_for(lambda o: o["kind"] == "class", 60)
            assert output["data"]["label"] == label, output
            assert output["text"].startswith(f"{label} (") and output["data"]["project"] == "things"
        assert other.ask("and now")["text"] == "and now"
        assert any("loaded image-features at its first use" in line for line in brain.log_lines)

    # A restart keeps the project and its trained version.
    (tmp_path / "again").mkdir()
    with (
        running_brain(TEACH.format(store=store, models=models("pose", "image-features")), tmp_path / "again") as brain,
        ready(brain) as eye,
    ):
        listed = command(eye, command="teach.projects")
        assert listed["data"]["projects"] == {"things": {"cat": 12, "cup": 12, "rocket": 12}}
        assert command(eye, command="teach.use", project="things")["text"].startswith("Using things (version 1)")
        eye.send(frame(variant(PHOTOS["cat"], rng)))
        assert eye.wait_for(lambda o: o["kind"] == "class", 60)["data"]["label"] == "cat"
        forgotten = sample(eye, "things", "cat", PHOTOS["cat"])
        after = command(eye, command="teach.forget", project="things", label="cat", sample=forgotten["data"]["sample"])
        assert after["data"]["counts"]["cat"] == 12


def test_pose_classes_from_a_person(store, tmp_path):
    rng = np.random.default_rng(3)
    with (
        running_brain(TEACH.format(store=store, models=models("pose", "image-features")), tmp_path) as brain,
        ready(brain) as eye,
    ):
        people = {"portrait": ASTRONAUT, "at the camera": CAMERAMAN}
        for label, photo in people.items():
            for _ in range(8):
                assert sample(eye, "poses", label, variant(photo, rng))["kind"] == "teach"
        command(eye, kinds=("training",), command="teach.train", project="poses", features="pose")
        trained = eye.wait_for(lambda o: o["kind"] in ("trained", "error") and o["cortex"] == "learned", 300)
        assert trained["kind"] == "trained", trained
        assert trained["data"]["labels"] == ["at the camera", "portrait"]
        command(eye, command="teach.use", project="poses")
        for _ in range(3):  # three agreeing frames: the class starts, debounced as a gesture
            eye.send(frame(variant(CAMERAMAN, rng)))
            assert eye.wait_for(lambda o: o["kind"] == "class", 60)["data"]["label"] == "at the camera"
        event = eye.seen_or_wait(lambda o: o["kind"] == "gesture", 10)
        assert event["data"] == {"gesture": "at the camera", "person": 0, "project": "poses"}
        eye.send(frame(variant(CAMERAMAN, rng)))
        eye.wait_for(lambda o: o["kind"] == "class", 60)
        assert len([o for o in eye.seen if o["kind"] == "gesture"]) == 1  # not again while it lasts


def test_a_trainer_ends_with_its_cortex_and_the_eye_trains_again(tmp_path):
    """Issue 22, item 6: a learned cortex killed mid-training left its trainer running,
    reparented to PID 1, beside a second training the restarted cortex accepted at once
    (two versions written). Now the trainer dies with its cortex, and the project's lock
    is held by the trainer alone: another eye cannot train it while a trainer lives."""
    rng = np.random.default_rng(11)
    store = tmp_path / "teach"
    with (
        running_brain(TEACH.format(store=store, models=models("pose", "image-features")), tmp_path) as brain,
        ready(brain) as eye,
        ready(brain) as other,
    ):
        for label, photo in {"portrait": ASTRONAUT, "at the camera": CAMERAMAN}.items():
            for _ in range(8):
                assert sample(eye, "poses", label, variant(photo, rng))["kind"] == "teach"
        command(eye, kinds=("training",), command="teach.train", project="poses", features="pose")
        assert wait_until(lambda: brain.named("Trainer"), 10)  # (forked as it said so; named a moment later)
        (trainer,) = brain.named("Trainer")
        cortex = psutil.Process(trainer.ppid())
        assert process_title(cortex).startswith("Learned "), process_title(cortex)
        cortex.kill()
        assert wait_until(lambda: not brain.named("Trainer"), 10), f"trainer {trainer.pid} outlived its cortex"
        eye.wait_for(lambda o: o["cortex"] == "session" and o["text"] == "The learned cortex is back.", 30)
        again = command(eye, kinds=("training", "error"), command="teach.train", project="poses", features="pose")
        assert again["kind"] == "training", again
        refused = command(other, kinds=("training", "error"), command="teach.train", project="poses", features="pose")
        assert refused["text"] == "Project 'poses' is training already; wait for it to finish.", refused
        assert other.ask("still here")["text"] == "still here"
        trained = eye.wait_for(lambda o: o["kind"] in ("trained", "error") and o["cortex"] == "learned", 300)
        assert trained["kind"] == "trained" and trained["data"]["version"] == 1, trained
        assert wait_until(lambda: not brain.named("Trainer"), 30)
        assert sorted(p.name for p in (store / "poses" / "versions").iterdir()) == ["1"]
        # Done, the lock is free at once: the other eye trains it now.
        again = command(other, kinds=("training", "error"), command="teach.train", project="poses", features="pose")
        assert again["kind"] == "training", again
        assert eye.ask("and now")["text"] == "and now"
