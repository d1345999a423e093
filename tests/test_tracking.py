"""Who is who across frames (actors/cortexes/pose/tracking.py): pure, in milliseconds."""

import time

import numpy as np
import pytest

from actors.cortexes.pose.body import INDEX
from actors.cortexes.pose.tracking import Found, Tracker, TrackSettings, box_around
from harness.poses import person

FRAME_S = 0.2  # the default 5 snapshots a second


def at(dx: float, dy: float = 0.0, scale: float = 1.0, noise: float = 0.0, rng=None, **moved) -> Found:
    """STANDING (centred on x = 320) moved by (dx, dy) and scaled, its box around its keypoints."""
    points = person(**moved)
    points[:, :2] = (points[:, :2] - (320, 300)) * scale + (320 + dx, 300 + dy)
    if noise:
        points[:, :2] += rng.normal(0, noise, (17, 2))
    return Found(box_around(points, 0.3), points)


def centre_x(tracked) -> float:
    return (tracked.box[0] + tracked.box[2]) / 2


def by_id(tracked) -> dict:
    return {t.id: t for t in tracked}


@pytest.mark.parametrize("hidden_when_they_meet", [False, True])
def test_people_who_cross_keep_their_ids(hidden_when_they_meet):
    # Same pose, same size: only their motion tells them apart. A walks right, B left, 40 px a
    # frame (200 px/s); they stand in the same place at frame 5, where the one behind may be
    # hidden, and their boxes have swapped sides by frame 6.
    rng = np.random.default_rng(1)
    tracker = Tracker()
    ids = None
    for frame in range(11):
        a, b = -200 + 40 * frame, 200 - 40 * frame
        found = [at(a, noise=2, rng=rng), at(b, noise=2, rng=rng)]
        if hidden_when_they_meet and frame == 5:
            found = found[:1]
        tracked = tracker.update(found, frame * FRAME_S)
        if frame == 0:
            ids = {"A": tracked[0].id, "B": tracked[1].id}  # left to right
        elif frame != 5:
            people = by_id(tracked)
            assert set(people) == set(ids.values()), f"frame {frame}: {sorted(people)}"
            assert abs(centre_x(people[ids["A"]]) - (320 + a)) < 10, f"frame {frame}: A's id is on B"
            assert abs(centre_x(people[ids["B"]]) - (320 + b)) < 10, f"frame {frame}: B's id is on A"
    assert [t.id for t in tracked] == [ids["B"], ids["A"]]  # swapped sides, left to right


def test_a_person_missed_for_a_frame_keeps_their_id_and_their_neighbour_theirs():
    tracker = Tracker()
    left, right = tracker.update([at(-90), at(90)], 0.0)  # side by side, boxes just apart
    assert tracker.update([at(91)], 0.2)[0].id == right.id  # the left one missed: not given to the right
    assert [t.id for t in tracker.update([at(-88), at(90)], 0.4)] == [left.id, right.id]


def test_a_person_missed_is_still_looked_for_where_they_were_until_keep_s():
    tracker = Tracker(TrackSettings(keep_s=1.0))
    left, right = tracker.update([at(-150), at(150)], 0.0)
    (seen,) = tracker.update([at(152)], 0.2)  # the left one missed: their crop must still be run
    assert sorted(tracker.boxes) == sorted([left.box, seen.box])
    tracker.update([at(150)], 1.1)  # missed past keep_s: no longer looked for
    assert len(tracker.boxes) == 1


def test_a_person_who_comes_back_within_keep_s_keeps_their_id_and_later_gets_a_new_one():
    tracker = Tracker(TrackSettings(keep_s=1.0))
    (first,) = tracker.update([at(0)], 0.0)
    for t in (0.2, 0.4, 0.6):
        assert tracker.update([], t) == []
    assert first.id in tracker.ids  # missed 0.6 s: still kept
    assert tracker.update([at(3)], 0.8)[0].id == first.id
    for t in (1.0, 1.4, 1.9):
        tracker.update([], t)
    assert tracker.ids == frozenset()  # missed 1.1 s: gone
    (back,) = tracker.update([at(3)], 2.0)
    assert back.id != first.id and back.id > first.id  # a new id, never a used one


def test_two_people_entering_at_once_get_two_new_ids():
    tracker = Tracker()
    (staying,) = tracker.update([at(0)], 0.0)
    tracked = tracker.update([at(-250), at(0), at(250)], 0.2)
    assert [t.id for t in tracked][1] == staying.id
    new = {tracked[0].id, tracked[2].id}
    assert len(new) == 2 and staying.id not in new
    assert tracker.ids == {staying.id, *new}


def test_an_empty_frame_gives_nobody_and_keeps_everyone_for_a_while():
    tracker = Tracker()
    assert tracker.update([], 0.0) == [] and tracker.ids == frozenset()
    (alone,) = tracker.update([at(0)], 0.2)
    assert tracker.update([], 0.4) == [] and tracker.ids == {alone.id}


def test_a_person_cut_by_the_frames_edge_keeps_their_id():
    # Only a shoulder, an elbow and a wrist in the frame: too few shared keypoints, the box says.
    def cut(dx: float) -> Found:
        points = at(dx).keypoints
        points[:, 2] = 0.05
        for name in ("right_shoulder", "right_elbow", "right_wrist"):
            points[INDEX[name], 2] = 0.6
        return Found(box_around(points, 0.3), points)

    tracker = Tracker()
    (first,) = tracker.update([cut(-250)], 0.0)
    for frame in range(1, 6):
        (now,) = tracker.update([cut(-250 + 5 * frame)], frame * FRAME_S)
        assert now.id == first.id


def test_people_come_out_left_to_right_whatever_order_they_were_found_in():
    tracked = Tracker().update([at(200), at(-200), at(0)], 0.0)
    assert [centre_x(t) for t in tracked] == sorted(centre_x(t) for t in tracked)


def test_a_box_around_the_seen_keypoints():
    points = person()
    assert box_around(points, 0.3, margin=0.0) == (250.0, 90.0, 390.0, 490.0)
    points[:, 2] = 0.0
    assert box_around(points, 0.3) is None


def test_thirty_people_keep_their_ids_at_a_bounded_cost():
    # 30 small people (a crowd far away) on a 10 × 3 grid, each shifting a little each frame.
    rng = np.random.default_rng(3)
    places = [(-270 + 60 * (i % 10), -150 + 150 * (i // 10)) for i in range(30)]
    tracker = Tracker()

    def frame(n: int) -> list[Found]:
        return [at(x + 2 * n, y, scale=0.3, noise=1, rng=rng) for x, y in places]

    start_x = {t.id: centre_x(t) for t in tracker.update(frame(0), 0.0)}
    assert len(start_x) == 30
    spent = []
    for n in range(1, 21):
        found = frame(n)
        start = time.perf_counter()
        tracked = tracker.update(found, n * FRAME_S)
        spent.append(time.perf_counter() - start)
        assert sorted(t.id for t in tracked) == sorted(start_x)
        for t in tracked:  # each id stays on its own person
            assert abs(centre_x(t) - (start_x[t.id] + 2 * n)) < 10
    median_ms = sorted(spent)[len(spent) // 2] * 1000
    assert median_ms < 20, f"30 × 30 matching took {median_ms:.2f} ms (median of 20 frames)"
    print(f"30 people × 30 tracks: {median_ms:.2f} ms a frame (median)")


def test_a_flood_of_strangers_keeps_at_most_max_tracks():
    tracker = Tracker(TrackSettings(max_tracks=10))
    for n in range(50):  # a new person every frame, far from every other
        tracker.update([at(-300 + 13 * n, 3000 * n)], n * 0.01)
    assert len(tracker.ids) == 10
