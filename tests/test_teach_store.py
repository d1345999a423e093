"""The teach store, its limits and the pure parts of training: in milliseconds."""

import multiprocessing
import os
import signal
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from actors.cortexes.learned.features import confusion, mirrored, per_class_accuracy, pose_vector, split
from actors.cortexes.learned.store import TeachError, TeachLimits, TeachStore
from tests.helpers import person

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def test_samples_are_kept_counted_forgotten_and_survive_a_new_store(tmp_path):
    store = TeachStore(tmp_path)
    sample, counts = store.add("dance", "arms up", JPEG)
    assert counts == {"arms up": 1}
    store.add("dance", "arms down", JPEG)
    again = TeachStore(tmp_path)  # (a restart)
    assert again.counts("dance") == {"arms down": 1, "arms up": 1}
    assert again.forget("dance", "arms up", sample) == {"arms down": 1}
    with pytest.raises(TeachError, match="has no sample"):
        again.forget("dance", "arms up", sample)


@pytest.mark.parametrize("name", ["", "../etc", ".hidden", "a/b", "x" * 41, " padded", 7, None])
def test_names_that_are_not_names_are_refused(tmp_path, name):
    with pytest.raises(TeachError, match="name is 1 to 40"):
        TeachStore(tmp_path).add(name, "label", JPEG)
    with pytest.raises(TeachError, match="name is 1 to 40"):
        TeachStore(tmp_path).add("project", name, JPEG)


def test_every_limit_says_what_to_do(tmp_path):
    limits = TeachLimits(
        max_projects=1, max_classes=2, max_samples_per_class=2, max_bytes=1000, min_samples_per_class=2
    )
    store = TeachStore(tmp_path, limits)
    store.add("one", "a", JPEG)
    with pytest.raises(TeachError, match="already 1 projects"):
        store.add("two", "a", JPEG)
    store.add("one", "a", JPEG)
    with pytest.raises(TeachError, match="has 2 samples already"):
        store.add("one", "a", JPEG)
    store.add("one", "b", JPEG)
    with pytest.raises(TeachError, match="2 classes already"):
        store.add("one", "c", JPEG)
    with pytest.raises(TeachError, match="record more of 'b' \\(1\\)"):
        store.check_trainable("one")
    with pytest.raises(TeachError, match="store is full"):
        store.add("one", "b", b"\xff" * 1000)
    with pytest.raises(TeachError, match="one class"):
        TeachStore(tmp_path / "x", limits).add("p", "a", JPEG) and TeachStore(tmp_path / "x", limits).check_trainable(
            "p"
        )


def test_one_training_at_a_time_and_a_dead_one_does_not_block(tmp_path):
    store = TeachStore(tmp_path)
    with store.training("dance"):
        assert store.is_training("dance")
        with pytest.raises(TeachError, match="training already"):
            with store.training("dance"):
                pass
    assert not store.is_training("dance")
    (tmp_path / "dance" / "training.lock").write_text("999999999")  # a pid that is not running
    with store.training("dance"):
        pass
    # A lock file naming a process that lives (its pid taken again, say) blocks nothing
    # either: only a holder of the lock does.
    (tmp_path / "dance" / "training.lock").write_text(str(os.getppid()))
    with store.training("dance"):
        pass


def test_a_trainer_forked_with_the_lock_holds_it_alone_until_it_dies(tmp_path):
    """Issue 22, item 6: as the learned cortex does. It takes the lock, forks its trainer,
    closes its own copy: the trainer holds the lock as long as it lives, and its death
    (a kill, no last word) frees it."""
    store = TeachStore(tmp_path)
    lock = store.begin_training("dance")
    trainer = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    trainer.start()
    try:
        store.end_training(lock)
        assert store.is_training("dance")
        with pytest.raises(TeachError, match="'dance' is training already; wait for it to finish"):
            store.begin_training("dance")
        os.kill(trainer.pid, signal.SIGKILL)
        trainer.join(10)
        assert not store.is_training("dance")
        store.end_training(store.begin_training("dance"))
    finally:
        trainer.kill()
        trainer.join()


def test_a_project_exports_and_imports_under_another_name(tmp_path):
    store = TeachStore(tmp_path / "a")
    for label in ("up", "down"):
        for _ in range(3):
            store.add("dance", label, JPEG)
    archive = store.export("dance", tmp_path / "dance.zip")
    assert sorted({n.split("/")[1] for n in zipfile.ZipFile(archive).namelist()}) == ["down", "up"]
    other = TeachStore(tmp_path / "b")
    assert other.import_project(archive, "dance 2") == {"down": 3, "up": 3}
    with pytest.raises(TeachError, match="exists already"):
        other.import_project(archive, "dance 2")


def test_pose_features_ignore_place_and_size_and_mirror_swaps_sides():
    base = person(left_wrist=(390, 50))
    moved = base.copy()
    moved[:, :2] = moved[:, :2] * 0.3 + 100
    assert np.allclose(pose_vector(base), pose_vector(moved), atol=1e-6)
    flipped = mirrored(pose_vector(base)).reshape(17, 2)
    # The raised hand is now the right one, on the other side.
    assert flipped[10, 1] < flipped[6, 1] and flipped[10, 0] < 0
    assert np.allclose(mirrored(mirrored(pose_vector(base))), pose_vector(base))


def test_split_holds_out_fifteen_percent_of_each_class_the_same_each_time():
    labels = [0] * 20 + [1] * 7 + [2] * 1
    train, validation = split(labels, 0.15, seed=1)
    assert sorted(train + validation) == list(range(28))
    assert [sum(labels[i] == c for i in validation) for c in range(3)] == [3, 1, 0]
    assert split(labels, 0.15, seed=1) == (train, validation)


def test_confusion_and_accuracy_per_class():
    matrix = confusion([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], 3)
    assert matrix == [[1, 1, 0], [1, 2, 0], [0, 0, 0]]
    assert per_class_accuracy(matrix) == [0.5, 0.667, None]


def test_image_augmentation_is_seeded():
    from actors.cortexes.learned.features import augment_image

    image = Image.new("RGB", (64, 48), "white")
    a = augment_image(image, np.random.default_rng(3))
    b = augment_image(image, np.random.default_rng(3))
    assert a.tobytes() == b.tobytes()


def test_brain_teach_exports_imports_and_lists_from_the_command_line(tmp_path):
    import subprocess
    import sys

    from tests.helpers import ROOT

    config = tmp_path / "brain.toml"
    config.write_text(
        f'[[cortex]]\nname = "learned"\ntype = "learned"\nsubscribes = ["image", "command"]\n'
        f'params = {{ store_dir = "{tmp_path / "teach"}" }}\n'
        '[[model]]\nname = "pose"\nkind = "movenet"\npath = "models/movenet-lightning.tflite"\n'
        '[[model]]\nname = "image-features"\nkind = "centernet-embedding"\npath = "models/centernet-embedding.tflite"\n'
    )
    store = TeachStore(tmp_path / "teach")
    for label in ("up", "down"):
        store.add("dance", label, JPEG)

    def brain(*args):
        return subprocess.run(
            [sys.executable, "-m", "brain.cli", "teach", "--config", str(config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    exported = brain("export", "dance", str(tmp_path / "dance.zip"))
    assert exported.returncode == 0 and "exported dance (samples and labels)" in exported.stdout
    imported = brain("import", str(tmp_path / "dance.zip"), "dance again")
    assert imported.returncode == 0 and imported.stdout.strip() == "imported dance again: down (1), up (1)"
    assert brain("list").stdout.splitlines() == ["dance: down (1), up (1)", "dance again: down (1), up (1)"]
    refused = brain("import", str(tmp_path / "dance.zip"), "dance")
    assert refused.returncode == 2 and "exists already; import it under another name" in refused.stderr
