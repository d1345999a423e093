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


@pytest.mark.parametrize(
    "name, words",
    [
        ("", "Say whose face"),
        ("   ", "Say whose face"),
        (None, "Say whose face"),
        ("x" * 61, "at most 60"),
        ("Ada\u202eecilA", "invisible character (U+202E)"),
        ("Ada\u200b", "invisible character (U+200B)"),
        ("Ada\x07", "invisible character (U+0007)"),
    ],
)
def test_bad_names_are_explained(tmp_path, name, words):
    with pytest.raises(EnrolError, match=re.escape(words)):
        FaceStore(tmp_path).clean_name(name)


def test_names_never_become_paths(tmp_path):
    store = FaceStore(tmp_path / "faces")
    store.enroll("../../etc/passwd", vector())
    assert [p.parent for p in (tmp_path / "faces").iterdir()] == [tmp_path / "faces"]
    assert store.names == ["../../etc/passwd"]


def test_names_in_any_script_are_welcome(tmp_path):
    assert FaceStore(tmp_path).clean_name(" Zoë  O'Brien-Łukasz 李 ") == "Zoë O'Brien-Łukasz 李"


def test_forgetting_someone_unknown_does_not_list_who_is_known(tmp_path):
    store = FaceStore(tmp_path)
    store.enroll("Ada", vector())
    with pytest.raises(EnrolError) as caught:
        store.forget("Bob")
    assert str(caught.value) == "I do not know 'Bob'."


def test_a_face_in_view_shows_whose_it_is(tmp_path):
    store = FaceStore(tmp_path)
    ada, bob = vector(), vector()
    store.enroll("Ada", ada)
    store.enroll("Bob", bob)
    assert store.shows("Ada", [vector(bob, 0.3), vector(ada, 0.3)], threshold=0.7)
    assert not store.shows("Ada", [vector(bob, 0.3)], threshold=0.7)
    assert not store.shows("Ada", [], threshold=0.7)


def test_a_corrupt_file_is_skipped(tmp_path):
    store = FaceStore(tmp_path)
    store.enroll("Ada", vector())
    (tmp_path / "junk.json").write_text("{not json")
    assert FaceStore(tmp_path).names == ["Ada"]
