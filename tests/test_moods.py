"""What faces feel, steadied (actors/cortexes/faces/moods.py). Pure, in milliseconds: frames at
5 a second, each face's emotion scores as the model would give them."""

from actors.cortexes.faces.moods import Moods, Seen
from actors.models.emotion import CLASSES

FRAME_S = 0.2
LEFT, RIGHT = (100, 100, 200, 200), (400, 100, 500, 200)


def feeling(top: str, p: float = 0.9) -> dict[str, float]:
    rest = (1 - p) / (len(CLASSES) - 1)
    return {c: (p if c == top else rest) for c in CLASSES}


def run(moods: Moods, frames, start: float = 0.0):
    """Each frame: a list of Seen. → every frame's moods, and every (frame, index, reaction)."""
    seen, events = [], []
    for n, faces in enumerate(frames):
        got, started = moods.see(start + n * FRAME_S, faces)
        seen.append(got)
        events += [(n, index, reaction) for index, reaction in started]
    return seen, events


def test_a_steady_smile_is_one_reaction_however_long_it_lasts():
    frames = [[Seen(LEFT, None, feeling("neutral"))]] * 5 + [[Seen(LEFT, None, feeling("happy"))]] * 15
    seen, events = run(Moods(CLASSES), frames)
    assert [(index, reaction) for _, index, reaction in events] == [(0, "happy")]
    assert seen[4][0].emotion == "neutral" and seen[-1][0].emotion == "happy"
    assert 5 < events[0][0] <= 10  # within a second of the smile (the average turns, three agree)
    assert len({m[0].face for m in seen}) == 1  # one face throughout


def test_one_frames_flicker_changes_nothing():
    frames = [[Seen(LEFT, None, feeling("neutral"))]] * 6
    frames[3] = [Seen(LEFT, None, feeling("happy", 0.99))]
    seen, events = run(Moods(CLASSES), frames)
    assert events == []
    assert all(m[0].emotion == "neutral" for m in seen[4:])


def test_surprise_is_a_reaction_too_and_a_frown_is_none():
    seen, events = run(Moods(CLASSES), [[Seen(LEFT, None, feeling("surprise"))]] * 5)
    assert [r for _, _, r in events] == ["surprise"]
    _, events = run(Moods(CLASSES), [[Seen(LEFT, None, feeling("angry"))]] * 5)
    assert events == []


def test_two_faces_keep_their_own_feelings_when_they_swap_places():
    smile, calm = feeling("happy"), feeling("neutral")
    before = [[Seen(LEFT, "Eileen", smile), Seen(RIGHT, "Ansel", calm)]] * 5
    after = [[Seen(LEFT, "Ansel", calm), Seen(RIGHT, "Eileen", smile)]] * 5
    seen, events = run(Moods(CLASSES), before + after)
    assert [(n < 5, index) for n, index, _ in events] == [(True, 0)]  # Eileen's one smile, not again
    eileen = seen[0][0].face
    assert seen[-1][1].face == eileen and seen[-1][1].emotion == "happy"
    assert seen[-1][0].emotion == "neutral"  # Ansel did not inherit her smile


def test_unnamed_faces_are_followed_by_overlap_and_a_newcomer_starts_afresh():
    moods = Moods(CLASSES)
    frames = [[Seen(LEFT, None, feeling("happy"))]] * 5
    moved = (110, 105, 210, 205)  # the same face, a little further
    frames += [[Seen(moved, None, feeling("happy")), Seen(RIGHT, None, feeling("happy"))]] * 5
    seen, events = run(moods, frames)
    assert [(n, index) for n, index, _ in events] == [(2, 0), (7, 1)]  # each face's own smile, once
    assert seen[-1][0].face == seen[0][0].face != seen[-1][1].face


def test_a_face_gone_for_a_while_and_back_smiling_is_a_new_reaction():
    moods = Moods(CLASSES)
    _, first = run(moods, [[Seen(LEFT, None, feeling("happy"))]] * 5)
    run(moods, [[]] * 15, start=1.0)  # three seconds with nobody
    _, again = run(moods, [[Seen(LEFT, None, feeling("happy"))]] * 5, start=4.0)
    assert len(first) == len(again) == 1
    assert len(moods) == 1  # the one gone was forgotten
