"""Gestures per person (actors/cortexes/pose/people.py): pure, in milliseconds."""

import numpy as np

from actors.cortexes.pose.body import head, visible
from actors.cortexes.pose.gestures import BUILT_IN, gestures_in
from actors.cortexes.pose.people import People, Showing
from harness.poses import person

ARMS_UP = person(left_elbow=(385, 110), right_elbow=(255, 110), left_wrist=(390, 50), right_wrist=(250, 50))
DOWN = person()
FRAME_S = 0.2


def showing(id: int, points: np.ndarray) -> Showing:
    """What the pose cortex computes for one tracked person in a frame."""
    shown = gestures_in(points, head(points, 0.3), BUILT_IN, 0.3)
    return Showing(id, {rule.name: 1.0 for rule in shown}, visible(points, 0.3))


def run(frames: list[list[Showing]], people: People | None = None, start: float = 0.0) -> list[tuple[int, str]]:
    people = people or People()
    events = []
    for n, frame in enumerate(frames):
        events += people.see(start + n * FRAME_S, frame, {s.person for s in frame})
    return events


def test_two_people_raising_their_arms_are_two_events():
    assert run([[showing(1, ARMS_UP), showing(2, ARMS_UP)]] * 5) == [(1, "arms_up"), (2, "arms_up")]


def test_only_the_person_whose_arms_are_up_has_the_event():
    assert run([[showing(1, DOWN), showing(2, ARMS_UP)]] * 5) == [(2, "arms_up")]


def test_a_neighbours_frames_never_complete_your_run():
    # 2 steps to the left of 1 (listed left to right, their places swap) as 1 lowers their arms
    # and 2 raises theirs: three frames with arms up in the first place, never three of one
    # person's. No event (a debouncer by place, as the cortex keeps today, gives one).
    frames = [
        [showing(1, ARMS_UP), showing(2, DOWN)],
        [showing(1, ARMS_UP), showing(2, DOWN)],
        [showing(2, ARMS_UP), showing(1, DOWN)],
        [showing(2, ARMS_UP), showing(1, DOWN)],
    ]
    assert run(frames) == []


def test_a_gesture_held_while_two_people_swap_places_is_not_new():
    # Listed left to right: 1 with arms up walks past 2; their order in the frame swaps (a
    # debouncer by place would give 2 the event once 1 had left that place).
    left_then_right = [[showing(1, ARMS_UP), showing(2, DOWN)]] * 4
    right_then_left = [[showing(2, DOWN), showing(1, ARMS_UP)]] * 4
    assert run(left_then_right + right_then_left) == [(1, "arms_up")]


def test_a_person_missed_for_a_frame_keeps_their_gestures_state_and_one_gone_is_dropped():
    people = People()
    assert run([[showing(1, ARMS_UP), showing(2, DOWN)]] * 3, people) == [(1, "arms_up")]
    assert people.see(0.6, [showing(2, DOWN)], kept={1, 2}) == []  # 1 missed, still kept
    assert people.ids == {1, 2}
    assert people.see(0.8, [showing(1, ARMS_UP), showing(2, DOWN)], kept={1, 2}) == []  # back, arms still up
    assert people.see(1.0, [showing(2, DOWN)], kept={2}) == []  # 1 gone
    assert people.ids == {2}
    # Somebody new (the tracker never reuses an id) with arms up is a new event after 3 frames.
    assert run([[showing(3, ARMS_UP), showing(2, DOWN)]] * 3, people, start=1.2) == [(3, "arms_up")]
    assert people.ids == {2, 3}


def test_a_flood_of_frames_gives_at_most_one_event_per_person_per_gesture_start():
    # 3 people, 3000 frames 1 ms apart: 1 holds both arms up throughout, 2 raises them three
    # times (500 ms up, 500 ms down), 3 never does; 4 comes and goes with a hand up.
    up, down = showing(0, ARMS_UP), showing(0, DOWN)  # (computed once: the flood is the debounce's)
    left_hand = showing(4, person(left_wrist=(390, 50), left_elbow=(385, 110)))
    people = People()
    events = []
    for n in range(3000):
        now = n / 1000
        frame = [up._replace(person=1), (up if (n // 500) % 2 == 0 else down)._replace(person=2)]
        frame.append(down._replace(person=3))
        if n % 7:  # missed one frame in seven
            frame.append(left_hand)
        events += people.see(now, frame, kept={1, 2, 3, 4})
    assert events.count((1, "arms_up")) == 1
    assert events.count((2, "arms_up")) == 3  # its three starts
    assert events.count((4, "left_hand_up")) == 1
    assert sorted(set(events)) == [(1, "arms_up"), (2, "arms_up"), (4, "left_hand_up")]
