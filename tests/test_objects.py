"""The default brain recognises objects in real photos, end to end, with the real model."""

import os
import signal
import time
import urllib.request

import psutil
import pytest
import skimage.data

from harness.brains import running_brain
from harness.configs import default_config
from harness.eyes import label_of, ready_eye
from harness.pictures import jpeg, png_claiming
from harness.processes import process_title
from harness.waits import wait_until

# Public-domain / CC0 photos shipped by scikit-image, and what each must be seen to contain.
PHOTOS = {
    "coffee": (skimage.data.coffee, "cup"),
    "astronaut": (skimage.data.astronaut, "person"),
    "motorcycle": (lambda: skimage.data.stereo_motorcycle()[0], "motorcycle"),
    "chelsea": (skimage.data.chelsea, "cat"),
}


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("objects")
    with running_brain(default_config(tmp / "faces"), tmp) as running:
        yield running


@pytest.mark.parametrize("photo", PHOTOS)
def test_real_photos_are_recognised(brain, photo):
    make, expected = PHOTOS[photo]
    array = make()
    with ready_eye(brain) as eye:
        output = label_of(eye, jpeg(array))
        assert output["kind"] == "label", output
        labels = [d["label"] for d in output["data"]["detections"]]
        assert expected in labels, output["text"]
        assert f"{expected} (" in output["text"]
        found = output["data"]["detections"][labels.index(expected)]
        x1, y1, x2, y2 = found["box"]
        height, width = array.shape[:2]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert (x2 - x1) * (y2 - y1) > 0.1 * width * height  # the subject fills much of each photo


def test_the_cup_is_the_best_guess_on_the_coffee_photo(brain):
    with ready_eye(brain) as eye:
        output = label_of(eye, jpeg(skimage.data.coffee()))
        assert output["text"].startswith("cup (")


def test_bad_images_get_errors_and_recognition_goes_on(brain):
    whole = jpeg(skimage.data.astronaut())
    with ready_eye(brain) as eye:
        assert "truncated or corrupt" in label_of(eye, whole[: len(whole) // 3])["text"]
        for claimed in (png_claiming(8000, 6000), png_claiming(100_000, 100_000)):
            # (refused from its header by the gateway, before any cortex decodes it; the
            # cortex's own max_pixels is unit-tested in tests/test_imaging.py)
            eye.send(claimed)
            # (other cortexes' "truncated" errors for the first frame may still be arriving:
            # wait for the gateway's own refusal, not for any error)
            refusal = eye.wait_for(lambda o: o["kind"] == "error" and "max_image_pixels" in o["text"], 30)
            assert "(server.max_image_pixels)" in refusal["text"]
        assert label_of(eye, whole)["kind"] == "label"


def test_latest_frame_wins_and_drops_are_counted(brain):
    cat, cup = jpeg(skimage.data.chelsea()), jpeg(skimage.data.coffee())
    with ready_eye(brain) as eye:
        for _ in range(29):
            eye.send(cat)
        eye.send(cup)
        labels = []
        while True:
            output = eye.wait_for(lambda o: o["kind"] == "label", 60)
            labels.append(output)
            if output["data"]["dropped"] + len(labels) == 30:
                break
        assert len(labels) < 10, "older frames should have been dropped, not queued"
        assert labels[-1]["text"].startswith("cup ("), "the newest frame must be the one answered last"
    metrics = urllib.request.urlopen(brain.url + "/metrics").read().decode()
    counted = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines() if line[:1] != "#"}
    assert counted['cortical_dropped_total{reason="latest_frame_wins"}'] >= labels[-1]["data"]["dropped"]
    assert counted['cortical_cortex_latency_seconds_count{cortex="objects"}'] >= len(labels)
    assert counted["cortical_holder_batch_size_count"] >= len(labels)


def test_a_busy_model_never_delays_echo(brain):
    frame = jpeg(skimage.data.astronaut())
    with ready_eye(brain) as eye:
        for _ in range(10):
            eye.send(frame)
        eye.send("are you there?")
        # The echo must overtake the object cortex's work on the burst: it arrives
        # before the answer to the last frame, not queued behind the frames.
        kinds = []
        while not kinds or kinds[-1] != "label" or eye.seen[-1]["data"]["dropped"] + kinds.count("label") < 10:
            kinds.append(eye.wait_for(lambda o: o["kind"] in ("label", "echo"), 60)["kind"])
        assert "echo" in kinds and kinds.index("echo") < len(kinds) - 1, kinds


def test_many_eyes_get_batched_and_agree_with_one(brain):
    frame = jpeg(skimage.data.coffee())
    eyes = [ready_eye(brain) for _ in range(8)]
    try:
        alone = label_of(eyes[0], frame)
        batch_sizes, texts = [], []
        for _ in range(3):
            for eye in eyes:
                eye.send(frame)
            for eye in eyes:
                output = eye.wait_for(lambda o: o["kind"] == "label", 60)
                batch_sizes.append(output["data"]["batch"])
                texts.append(output["data"]["detections"])
        assert max(batch_sizes) > 1, batch_sizes
        for detections in texts:
            assert [d["label"] for d in detections] == [d["label"] for d in alone["data"]["detections"]]
            for got, want in zip(detections, alone["data"]["detections"]):
                assert got["score"] == pytest.approx(want["score"], abs=1e-3)
                assert got["box"] == pytest.approx(want["box"], abs=0.5)
    finally:
        for eye in eyes:
            eye.close()


def test_the_holder_runs_litert_and_no_process_loads_tensorflow(brain):
    """The default models are TFLite: TensorFlow's ~490 MB are paid by no process."""
    with ready_eye(brain):
        holders = brain.named("ModelHolder")
        assert len(holders) == 1

        def maps(proc) -> str:
            try:  # a short-lived helper process may end between listing and reading
                with open(f"/proc/{proc.pid}/maps") as found:
                    return found.read()
            except (FileNotFoundError, ProcessLookupError):
                return ""

        assert "ai_edge_litert" in maps(holders[0])
        everyone = [*brain.processes(), psutil.Process(brain.proc.pid)]
        assert not [process_title(p) for p in everyone if "libtensorflow_framework" in maps(p)]


def test_holder_killed_gives_an_error_then_recovers(tmp_path):
    config = default_config(tmp_path / "faces", objects_timeout_ms=1500)
    frame = jpeg(skimage.data.coffee())
    with running_brain(config, tmp_path) as brain, ready_eye(brain) as eye:
        assert label_of(eye, frame)["kind"] == "label"
        (holder,) = brain.named("ModelHolder")
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        first = label_of(eye, frame, timeout=10)
        # The directory hears of the exit first and tells the cortex at once; the
        # request's own timeout (1.5 s) is the backstop. A new holder loads in ~0.2 s, so
        # on a busy machine it may already serve this frame: a label, and no error at all.
        if first["kind"] == "error":
            assert (
                "the holder on this machine exited" in first["text"] or "did not answer within 1500 ms" in first["text"]
            ), first["text"]
            eye.wait_for(lambda o: o["data"].get("state") == "ready", timeout=120)
        else:
            assert first["text"].startswith("cup ("), first
        assert time.monotonic() - killed < 1.5 + 1.0
        assert label_of(eye, frame)["text"].startswith("cup (")
        assert wait_until(lambda: len(brain.named("ModelHolder")) == 1, 10)
        assert brain.named("ModelHolder")[0].pid != holder.pid


def test_a_hung_holder_is_told_from_a_busy_one_and_replaced(tmp_path):
    config = default_config(tmp_path / "faces", objects_timeout_ms=1000)
    frame = jpeg(skimage.data.coffee())
    with running_brain(config, tmp_path) as brain, ready_eye(brain) as eye:
        assert label_of(eye, frame)["kind"] == "label"
        (holder,) = brain.named("ModelHolder")
        os.kill(holder.pid, signal.SIGSTOP)  # there, but making no progress at all
        error = label_of(eye, frame, timeout=10)
        assert "did not answer within 1000 ms; it is being restarted" in error["text"]
        eye.wait_for(lambda o: o["data"].get("state") == "ready", timeout=120)
        assert label_of(eye, frame)["text"].startswith("cup (")
        assert not psutil.pid_exists(holder.pid) or psutil.Process(holder.pid).status() == psutil.STATUS_ZOMBIE


def test_a_cortex_here_asks_the_holder_over_its_link(tmp_path):
    """The objects cortex connects to the holder's own socket (no thespian hop): the
    holder's listening socket and the one connection it accepted, from the only cortex."""
    config = default_config(tmp_path / "faces")
    config = config[: config.index('[[cortex]]\nname = "faces"')]  # (echo and objects)
    with running_brain(config, tmp_path) as brain, ready_eye(brain) as eye:
        assert label_of(eye, jpeg(skimage.data.coffee()))["text"].startswith("cup (")
        (holder,) = brain.named("ModelHolder")
        links = [c for c in holder.net_connections(kind="unix") if "cortical-holder" in c.laddr]
        assert len(links) == 2, links
