"""The brain's data is its user's alone (issue 22, item 10): teach samples, trained heads,
alert snapshots and enrolled faces were 0644 files in 0755 directories, readable by every
local user, and the faces directory's file names say who is enrolled. A real brain writes
each of them here; every file must be 0600 and every directory 0700, and directories an
older brain made 0755 are closed when their stores start."""

from __future__ import annotations

import json
import stat

import numpy as np

from harness.brains import running_brain
from harness.configs import STORES_NEEDS, stores_topology
from harness.pictures import ASTRONAUT, CAMERAMAN, frame, variant


def answer(eye, cortex: str, kinds: tuple[str, ...], timeout: float = 60) -> dict:
    return eye.wait_for(lambda o: o["cortex"] == cortex and o["kind"] in kinds, timeout)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_samples_heads_snapshots_and_faces_are_for_the_brains_user_alone(tmp_path):
    rng = np.random.default_rng(2)
    for older in ("teach", "faces"):  # made by an older brain: open to all
        (tmp_path / older).mkdir()
        (tmp_path / older).chmod(0o755)
    with running_brain(stores_topology(tmp_path, max_epochs=2), tmp_path) as brain, brain.eye(max_size=None) as eye:
        ready = set()
        while not STORES_NEEDS <= ready:
            status = eye.wait_for(lambda o: o["data"].get("state") == "ready" and "model" in o["data"], 120)
            ready.add((status["cortex"], status["data"]["model"]))
        eye.send(frame(ASTRONAUT))
        eye.send(json.dumps({"command": "enroll", "name": "Eileen"}))
        assert answer(eye, "faces", ("enrolled", "error"))["kind"] == "enrolled"
        for _ in range(20):  # (the sentry keeps the latest frame only: one per answer of the faces cortex)
            eye.send(frame(CAMERAMAN))
            answer(eye, "faces", ("faces",))
            if any(o["kind"] == "alert" for o in eye.seen):
                break
        eye.seen_or_wait(lambda o: o["kind"] == "alert", 30)
        for label, photo in {"portrait": ASTRONAUT, "at the camera": CAMERAMAN}.items():
            for _ in range(5):
                eye.send(frame(variant(photo, rng)))
                eye.send(json.dumps({"command": "teach.sample", "project": "poses", "label": label}))
                assert answer(eye, "learned", ("teach", "error"))["kind"] == "teach"
        eye.send(json.dumps({"command": "teach.train", "project": "poses", "features": "pose"}))
        trained = answer(eye, "learned", ("trained", "error"), 300)
        assert trained["kind"] == "trained", trained
        assert eye.ask("still here")["text"] == "still here"

    written = {
        "a teach sample": next((tmp_path / "teach" / "poses" / "samples").rglob("*.jpg")),
        "a trained head": tmp_path / "teach" / "poses" / "versions" / "1" / "model.tflite",
        "its Keras source": tmp_path / "teach" / "poses" / "versions" / "1" / "model.keras",
        "an alert snapshot": next((tmp_path / "alerts").rglob("*.jpg")),
        "an enrolled face": next((tmp_path / "faces").glob("*.json")),
    }
    assert {what: oct(mode(path)) for what, path in written.items()} == {what: "0o600" for what in written}
    for store in ("teach", "faces", "alerts"):
        for path in [tmp_path / store, *(tmp_path / store).rglob("*")]:
            assert mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(mode(path)))
