"""A gallery visit (actors/cortexes/gallery/visit.py). Pure, in milliseconds: frames at 5 a
second, each face's happy and surprise as the faces cortex's emotion outputs say."""

import pytest

from actors.cortexes.gallery.visit import Felt, Visit, VisitSettings

FRAME_S = 0.2
CALM, SMILE, WOW = Felt(None, 0.02, 0.01), Felt(None, 0.95, 0.01), Felt(None, 0.05, 0.9)


def show(visit: Visit, start: float, item: str, faces, seconds: float = 3.0) -> float:
    """`item` on screen for `seconds`, every frame showing `faces`; → the time after."""
    visit.look(start, item)
    frames = round(seconds / FRAME_S)
    for n in range(1, frames + 1):
        visit.feel(start + n * FRAME_S, faces)
    return start + seconds


@pytest.mark.parametrize("smiled_at", [0, 1, 2])
def test_the_smiled_at_item_is_the_favourite_wherever_it_comes(smiled_at):
    visit, now = Visit(), 0.0
    for i, item in enumerate(["coffee", "chelsea", "rocket"]):
        now = show(visit, now, item, [SMILE if i == smiled_at else CALM])
    result = visit.done(now)
    assert result.favourite == ["coffee", "chelsea", "rocket"][smiled_at]
    assert list(result.items) == ["coffee", "chelsea", "rocket"]  # in the order shown
    best = result.items[result.favourite]
    assert best.happy > 0.9 and best.attention_s == pytest.approx(3.0)
    assert all(s.score < best.score for item, s in result.items.items() if item != result.favourite)


def test_the_last_items_smile_does_not_count_for_the_next_one():
    # The averages still hold the smile for a second after the switch: not scored.
    visit = Visit()
    now = show(visit, 0.0, "coffee", [SMILE])
    now = show(visit, now, "chelsea", [SMILE], seconds=0.8)  # (the carried-over smile)
    result = visit.done(now)
    assert result.items["chelsea"].happy == 0.0 and result.items["chelsea"].attention_s == pytest.approx(0.8)


def test_surprise_counts_and_attention_breaks_ties():
    visit, now = Visit(), 0.0
    now = show(visit, now, "coffee", [CALM])
    now = show(visit, now, "rocket", [WOW])
    assert visit.done(now).favourite == "rocket"
    visit, now = Visit(), 0.0
    now = show(visit, now, "coffee", [CALM], seconds=3.0)
    visit.look(now, "chelsea")  # calm too, but looked at for only the first second of three
    for n in range(1, 6):
        visit.feel(now + n * FRAME_S, [CALM])
    result = visit.done(now + 3.0)
    assert result.favourite == "coffee" and result.items["chelsea"].attention_s == pytest.approx(1.0)


def test_nobody_watching_has_no_favourite():
    visit, now = Visit(), 0.0
    for item in ("coffee", "chelsea"):
        now = show(visit, now, item, [])
    result = visit.done(now)
    assert result.favourite is None and all(s.attention_s == 0 for s in result.items.values())


def test_each_known_person_has_their_own_favourite_and_the_group_one_too():
    eileen, ansel = "Eileen", "Ansel"
    visit, now = Visit(), 0.0
    now = show(visit, now, "coffee", [Felt(eileen, 0.95, 0.0), Felt(ansel, 0.1, 0.0)])
    now = show(visit, now, "chelsea", [Felt(eileen, 0.3, 0.0), Felt(ansel, 0.9, 0.0), Felt(None, 0.9, 0.0)])
    result = visit.done(now)
    assert result.people == {"Ansel": "chelsea", "Eileen": "coffee"}
    assert result.favourite == "chelsea"  # the group: (0.3 + 0.9 + 0.9) / 3 against (0.95 + 0.1) / 2


def test_done_needs_a_look_and_starts_a_new_visit():
    visit = Visit()
    with pytest.raises(ValueError):
        visit.done(0.0)
    show(visit, 0.0, "coffee", [SMILE])
    assert visit.done(3.0).favourite == "coffee"
    with pytest.raises(ValueError):  # a second done: that visit is over
        visit.done(3.1)
    now = show(visit, 4.0, "rocket", [CALM])
    assert list(visit.done(now).items) == ["rocket"]  # nothing of the last visit


def test_a_visit_shows_a_bounded_number_of_items():
    visit = Visit(VisitSettings(max_looks=3))
    for n in range(3):
        visit.look(n, "coffee")
    with pytest.raises(ValueError):
        visit.look(3, "coffee")
    assert visit.done(4).items["coffee"].attention_s == 0  # the visit is whole after the refusal
