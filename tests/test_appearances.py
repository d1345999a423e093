"""A person who stays in view is compared once (pure, in milliseconds)."""

from actors.cortexes.faces.appearances import Appearances

FACE = (0.40, 0.20, 0.55, 0.45)
MOVED = (0.42, 0.21, 0.57, 0.46)  # the same face, a little later
OTHER = (0.05, 0.10, 0.20, 0.35)


def test_one_comparison_per_appearance():
    people = Appearances(gone_after_s=2.0)
    assert people.known([FACE], 0.0) is None  # new: compare
    people.compared([FACE], [("Eileen", 0.97)], 0.1)
    for t in (0.3, 0.5, 0.9, 1.5):
        assert people.known([MOVED], t) == [("Eileen", 0.97)]  # stays: no comparison
    assert people.known([MOVED], 3.9) is None  # unseen for 2.4 s: back is a new appearance
    people.compared([MOVED], [("Eileen", 0.95)], 4.0)
    assert people.known([], 4.2) == []  # a frame with nobody ends it at once …
    assert people.known([MOVED], 4.4) is None  # … so whoever stands there next is compared


def test_somebody_new_beside_a_known_face_is_compared_and_both_are_kept():
    people = Appearances()
    people.known([FACE], 0.0)
    people.compared([FACE], [("Eileen", 0.97)], 0.0)
    assert people.known([FACE, OTHER], 0.5) is None
    people.compared([FACE, OTHER], [("Eileen", 0.96), (None, 0.1)], 0.6)
    assert people.known([OTHER, FACE], 0.8) == [(None, 0.1), ("Eileen", 0.96)]
    assert len(people.tracks) == 2


def test_a_staying_face_is_rechecked_when_asked_to():
    people = Appearances(recheck_every_s=10.0)
    people.known([FACE], 0.0)
    people.compared([FACE], [(None, 0.2)], 0.0)
    for t in range(1, 10):
        assert people.known([FACE], float(t)) == [(None, 0.2)]
    assert people.known([FACE], 10.5) is None
