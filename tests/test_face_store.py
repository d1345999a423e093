"""Enrolled faces on disk: shared between stores, surviving restarts, names made safe."""

import re

import numpy as np
import pytest

from actors.cortexes.faces.store import EnrolError, FaceStore

rng = np.random.default_rng(5)


def vector(base=None, noise=0.0):
    v = rng.normal(size=1024).astype(np.float32) if base is None else base.copy()
    return v + rng.normal(size=1024).astype(np.float32) * noise


def test_enrolled_face_matches_and_survives_a_new_store(tmp_path):
    olivier, other = vector(), vector()
    FaceStore(tmp_path).enroll("Olivier", olivier)
    fresh = FaceStore(tmp_path)  # another session, or the brain after a restart
    name, score = fresh.match(vector(olivier, noise=0.3))
    assert name == "Olivier" and score > 0.9
    assert fresh.match(other)[1] < 0.2


def test_an_enrolment_in_one_store_is_seen_by_another(tmp_path):
    first, second = FaceStore(tmp_path), FaceStore(tmp_path)
    assert second.names == []
    first.enroll("Ada", vector())
    assert second.names == ["Ada"]
    second.forget("Ada")
    assert first.names == []


def test_views_accumulate_up_to_the_limit(tmp_path):
    store = FaceStore(tmp_path, max_views=3)
    base = vector()
    assert [store.enroll("Ada", vector(base, 0.1)) for _ in range(5)] == [1, 2, 3, 3, 3]


@pytest.mark.parametrize("name", ["..", "../../etc/passwd", "a/b", "a\\b", ".", "x" * 61])
def test_the_store_writes_no_file_for_an_unchecked_name(tmp_path, name):
    store = FaceStore(tmp_path / "faces")
    with pytest.raises(EnrolError):
        store.enroll(name, vector())
    assert not (tmp_path / "faces").exists() and store.names == []


def test_names_never_become_paths(tmp_path):
    # Good names that would be poor file names: each gets its own plain file, read back.
    names = ["Con", "Nul.", "Ada Lovelace", "Ada-Lovelace", "Ada", "ADA", "李", "Zoë", "Jr. O'Brien", "x" * 60]
    store = FaceStore(tmp_path / "faces")
    for name in names:
        store.enroll(name, vector())
    files = list((tmp_path / "faces").iterdir())
    assert len(files) == len(names) and {f.parent for f in files} == {tmp_path / "faces"}
    assert all(re.fullmatch(r"[a-z0-9-]{1,40}-[0-9a-f]{10}\.json", f.name) for f in files)
    assert FaceStore(tmp_path / "faces").names == sorted(names)


def test_the_store_keeps_names_tidied(tmp_path):
    store = FaceStore(tmp_path)
    store.enroll("  Zoe\u0308   Smith ", vector())  # (an e and a combining diaeresis)
    assert store.names == ["Zoë Smith"]


def test_forgetting_someone_unknown_does_not_list_who_is_known(tmp_path):
    store = FaceStore(tmp_path)
    store.enroll("Ada", vector())
    with pytest.raises(EnrolError) as caught:
        store.forget("Bob")
    assert str(caught.value) == "I do not know 'Bob'."


def test_faces_in_view_are_named_when_they_match(tmp_path):
    store = FaceStore(tmp_path)
    ada, bob = vector(), vector()
    store.enroll("Ada", ada)
    store.enroll("Bob", bob)
    assert store.names_of([vector(bob, 0.3), vector(ada, 0.3), vector()], threshold=0.7) == ["Bob", "Ada", None]
    assert store.names_of([], threshold=0.7) == []


def test_a_corrupt_file_is_skipped(tmp_path):
    store = FaceStore(tmp_path)
    store.enroll("Ada", vector())
    (tmp_path / "junk.json").write_text("{not json")
    assert FaceStore(tmp_path).names == ["Ada"]
