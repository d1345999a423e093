"""The body's normalisation, head direction, gesture rules and debounce: pure, in milliseconds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.cortexes.pose.body import INDEX, head, normalise, upright
from actors.cortexes.pose.gestures import BUILT_IN, RuleError, gestures_in, parse_rules
from actors.debounce import Debouncer, DebounceSettings
from harness.poses import STANDING, person

ARMS_UP = {"left_elbow": (385, 110), "right_elbow": (255, 110), "left_wrist": (390, 50), "right_wrist": (250, 50)}


def names(points: np.ndarray) -> list[str]:
    return [rule.name for rule in gestures_in(points, head(points, 0.3), BUILT_IN, 0.3)]


def moved(points: np.ndarray, scale: float, dx: float, dy: float, angle: float = 0.0) -> np.ndarray:
    out = points.copy()
    c, s = math.cos(angle), math.sin(angle)
    xy = points[:, :2] @ np.array([[c, -s], [s, c]]).T
    out[:, :2] = xy * scale + (dx, dy)
    return out


def test_normalised_the_hips_are_the_centre_and_the_body_fits_in_one():
    points = normalise(person())
    assert np.allclose((points[INDEX["left_hip"]] + points[INDEX["right_hip"]]) / 2, 0)
    assert np.abs(points).max() <= 1.0 + 1e-9
    assert normalise(np.zeros((17, 3))).tolist() == np.zeros((17, 2)).tolist()  # nothing to see, no crash


@settings(max_examples=200, deadline=None)
@given(
    scale=st.floats(0.05, 20),
    dx=st.floats(-5000, 5000),
    dy=st.floats(-5000, 5000),
    arms_up=st.booleans(),
)
def test_where_a_body_stands_and_how_big_it_is_change_nothing(scale, dx, dy, arms_up):
    base = person(**ARMS_UP) if arms_up else person()
    shifted = moved(base, scale, dx, dy)
    assert np.allclose(normalise(shifted), normalise(base), atol=1e-6)
    assert names(shifted) == names(base)


def test_both_wrists_above_the_shoulders_are_arms_up_and_one_is_a_hand_up():
    assert names(person()) == []
    assert names(person(**ARMS_UP)) == ["arms_up"]
    assert names(person(left_wrist=(390, 50), left_elbow=(385, 110))) == ["left_hand_up"]
    assert names(person(right_wrist=(250, 50), right_elbow=(255, 110))) == ["right_hand_up"]
    just_above = person(left_wrist=(390, 150), right_wrist=(250, 150))  # 10 px: not clearly
    assert names(just_above) == []


@pytest.mark.parametrize("degrees", [-35, -15, 15, 35])
def test_arms_up_holds_for_a_tilted_camera(degrees):
    tilted = moved(person(**ARMS_UP), 1.0, 0, 0, math.radians(degrees))
    assert "arms_up" in names(tilted)
    assert "arms_up" not in names(moved(person(), 1.0, 0, 0, math.radians(degrees)))


def test_a_hidden_point_says_nothing_of_what_needs_it():
    points = person(**ARMS_UP)
    points[INDEX["right_wrist"], 2] = 0.1  # out of the frame
    assert names(points) == ["left_hand_up"]  # not arms up; the left one is seen up
    points[INDEX["left_shoulder"], 2] = 0.1
    assert names(points) == []  # above what? unseen


def test_leaning_is_a_tilt_of_the_torso_in_the_image():
    lean = {n: (x + 90 * (300 - y) / 200, y) for n, (x, y) in STANDING.items()}  # top moves image-right
    assert "lean_left" in names(person(**lean))  # the person's own left
    mirrored = {n: (x - 90 * (300 - y) / 200, y) for n, (x, y) in STANDING.items()}
    assert "lean_right" in names(person(**mirrored))


def test_head_direction_signs_and_range():
    # Ahead: both sides alike; the nose 10/24 eye distances below the eyes (0.5 is ahead).
    assert head(person(), 0.3) == {"yaw": 0.0, "pitch": pytest.approx((10 / 24 - 0.5) / 0.5, abs=0.01)}
    # Turned toward the image's right: the right-hand side's eye–ear distance shrinks.
    right = head(person(nose=(335, 100), left_eye=(338, 90), right_eye=(315, 90), left_ear=(341, 95)), 0.3)
    assert right["yaw"] > 0.35
    assert "look_left" in names(person(nose=(335, 100), left_eye=(338, 90), right_eye=(315, 90), left_ear=(341, 95)))
    down = head(person(nose=(320, 110)), 0.3)  # the nose well below the eyes' line
    assert down["pitch"] > 0.35
    unseen = person()
    unseen[INDEX["nose"], 2] = 0.0
    assert head(unseen, 0.3) is None
    extreme = head(person(nose=(400, 300)), 0.3)
    assert -1 <= extreme["yaw"] <= 1 and -1 <= extreme["pitch"] <= 1


def test_upright_turns_the_torso_to_point_up():
    tilted = normalise(moved(person(), 1.0, 0, 0, math.radians(40)))
    turned = upright(tilted)
    shoulders = (turned[INDEX["left_shoulder"]] + turned[INDEX["right_shoulder"]]) / 2
    assert abs(shoulders[0]) < 1e-9 and shoulders[1] < 0


def test_rules_from_config_are_read_and_mistakes_named():
    (rule,) = parse_rules([{"name": "salute", "all": ["right_wrist.y < nose.y + 0.05", "head.yaw >= -0.2"]}])
    assert rule.text == "salute" and rule.frame == "body" and rule.needs() == {"right_wrist", "nose"}
    for table, words in [
        ({"name": "x", "all": ["left_wirst.y < 0"]}, "gestures[0].all[0]: no point named 'left_wirst'"),
        ({"name": "x", "all": ["nose.z < 0"]}, "a point has x and y, not 'z'"),
        ({"name": "x", "all": ["head.roll > 0"]}, "head has yaw and pitch"),
        ({"name": "x", "all": ["nose.y << 0"]}, "cannot read 'nose.y << 0'"),
        ({"name": "x", "all": []}, "at least one condition"),
        ({"name": "Bad Name", "all": ["nose.y < 0"]}, "gestures[0].name"),
        ({"name": "x", "frame": "world", "all": ["nose.y < 0"]}, "gestures[0].frame"),
        ({"name": "x", "when": [], "all": ["nose.y < 0"]}, "gestures[0].when: unknown key"),
    ]:
        with pytest.raises(RuleError, match=words.replace("(", r"\(").replace("[", r"\[").replace("]", r"\]")):
            parse_rules([table])


def debounce(frames, **settings):
    d = Debouncer(DebounceSettings(**settings))
    return [d.see(t, shown, seen) for t, shown, seen in frames]


def test_a_gesture_is_an_event_when_three_agree_not_on_every_frame():
    up = {"arms_up": 1.0}
    frames = [(0.0, up, 17), (0.2, up, 17), (0.4, up, 17), (0.6, up, 17), (0.8, up, 17)]
    assert debounce(frames) == [[], [], ["arms_up"], [], []]


def test_a_gesture_that_ends_and_starts_again_is_a_new_event():
    up, down = {"arms_up": 1.0}, {}
    frames = [(t / 5, up, 17) for t in range(3)] + [(0.6, down, 17)] + [(0.8 + t / 5, up, 17) for t in range(3)]
    assert debounce(frames) == [[], [], ["arms_up"], [], [], [], ["arms_up"]]


def test_frames_too_far_apart_unsure_or_of_half_a_person_do_not_count():
    up = {"arms_up": 1.0}
    assert debounce([(0.0, up, 17), (0.6, up, 17), (1.2, up, 17)]) == [[], [], []]  # not within 1 s
    assert debounce([(0, up, 17), (0.1, {"arms_up": 0.9}, 17), (0.2, up, 17)]) == [[], [], []]  # p < 0.94
    assert debounce([(0.0, up, 7), (0.1, up, 7), (0.2, up, 7)]) == [[], [], []]  # 7 keypoints seen
    # A half-seen frame in between neither counts nor breaks the run.
    assert debounce([(0.0, up, 17), (0.1, up, 3), (0.2, up, 17), (0.3, up, 17)])[-1] == ["arms_up"]


def test_events_keep_their_distance():
    a, b = {"arms_up": 1.0}, {"arms_up": 1.0, "look_left": 1.0}
    frames = [(0.00, a, 17), (0.05, a, 17), (0.10, b, 17), (0.15, b, 17), (0.20, b, 17), (0.25, b, 17)]
    # arms_up at 0.10; look_left agrees at 0.20 but waits for 100 ms after that event
    assert debounce(frames, min_gap_s=0.15) == [[], [], ["arms_up"], [], [], ["look_left"]]
