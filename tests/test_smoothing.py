"""Steadier keypoints (actors/cortexes/pose/smoothing.py): pure, in milliseconds.

Measured at the default 5 frames a second on STANDING, whose box is 168 × 480 px: a size
(the mean of its sides, as the filter measures speed) of 324 px.
"""

import numpy as np
import pytest

from actors.cortexes.pose.body import INDEX
from actors.cortexes.pose.smoothing import KeypointSmoother, OneEuroFilter
from actors.cortexes.pose.tracking import Tracked, box_around
from harness.poses import person

FRAME_S = 0.2
SIZE = 324.0  # STANDING's box, (168 + 480) / 2
WRIST = INDEX["left_wrist"]


def tracked(points: np.ndarray, id: int = 1) -> Tracked:
    return Tracked(id, box_around(person(), 0.3), points)  # the box (its size) of STANDING: 324 px


def still_spread(noise_px: float, scale: float = 1.0) -> tuple[float, float]:
    """Spread (std of x and y, over every keypoint) of a still person over 100 noisy frames,
    before and after the filter (the first 10 frames left out: the filter starts from one)."""
    rng = np.random.default_rng(7)
    smoother = KeypointSmoother()
    raw, smoothed = [], []
    for frame in range(100):
        points = person()
        points[:, :2] = points[:, :2] * scale + rng.normal(0, noise_px * scale, (17, 2))
        raw.append(points[:, :2])
        seen = Tracked(1, box_around(points, 0.3), points)
        smoothed.append(smoother.smooth(frame * FRAME_S, [seen], {1})[0].keypoints[:, :2])
    spread = lambda frames: float(np.std(np.array(frames[10:]), axis=0).mean())  # noqa: E731
    return spread(raw), spread(smoothed)


def test_a_still_person_shivers_much_less():
    for noise_px, most in [(3.2, 0.35), (6.5, 0.45)]:  # 1 % and 2 % of the person's size
        before, after = still_spread(noise_px)
        ratio = after / before
        print(f"still, noise {noise_px} px: spread {before:.2f} → {after:.2f} px (× {ratio:.2f})")
        assert ratio < most, f"noise {noise_px} px: spread {before:.2f} → {after:.2f} px, × {ratio:.2f}"


def test_a_person_near_or_far_is_smoothed_alike():
    # Speed is measured in the person's size: half as big with half the jitter, same result.
    ratios = [after / before for before, after in (still_spread(3.2, scale) for scale in (0.5, 1.0, 2.0))]
    assert max(ratios) - min(ratios) < 0.02, ratios


@pytest.mark.parametrize("sizes_a_second, most_ms", [(1.0, 100), (0.3, 200)])
def test_a_moving_hand_lags_less_than_a_frame(sizes_a_second, most_ms):
    # The left wrist still for 1 s, then rising at one person's size a second (324 px/s, a raised
    # hand) or 0.3 (a slow one) for 3 s, with 1 % jitter. The lag is how far behind the filtered
    # point is, in time. The person's size is held at 324 px (a real wrist stops sooner, and a
    # box that grows with it would make the filter a little slower).
    rng = np.random.default_rng(11)
    speed = SIZE * sizes_a_second  # px a second
    smoother = KeypointSmoother()
    lags_ms = []
    for frame in range(20):
        now = frame * FRAME_S
        true_y = 295 - speed * max(now - 1.0, 0.0)
        points = person(left_wrist=(390, true_y))
        points[:, :2] += rng.normal(0, 3.2, (17, 2))
        (out,) = smoother.smooth(now, [tracked(points)], {1})
        if now > 1.0:
            lags_ms.append((out.keypoints[WRIST, 1] - true_y) / speed * 1000)
    first, steady = lags_ms[0], float(np.mean(lags_ms[5:]))
    print(f"hand at {speed:.0f} px/s: lag {first:.0f} ms a frame after it starts, {steady:.0f} ms steady")
    assert 0 < steady < most_ms, f"steady lag {steady:.0f} ms (a frame is 200 ms)"
    assert first < most_ms, f"lag {first:.0f} ms one frame after the hand starts"


def test_an_unsure_keypoint_holds_its_place_instead_of_dragging_the_filter():
    smoother = KeypointSmoother(min_score=0.3)
    for frame in range(10):
        smoother.smooth(frame * FRAME_S, [tracked(person())], {1})
    guess = person(left_wrist=(600, 20))
    guess[WRIST, 2] = 0.1  # the model's unsure guess, far away
    (out,) = smoother.smooth(2.0, [tracked(guess)], {1})
    assert out.keypoints[WRIST, :2].tolist() == [390.0, 295.0]  # held where it steadily was
    assert out.keypoints[WRIST, 2] == 0.1  # the score is passed on: consumers still see it unsure
    (out,) = smoother.smooth(2.2, [tracked(person())], {1})
    assert out.keypoints[WRIST, :2].tolist() == [390.0, 295.0]  # seen again where it was: no jump


def test_a_keypoint_seen_for_the_first_time_starts_where_it_is():
    smoother = KeypointSmoother()
    hidden = person()
    hidden[WRIST, 2] = 0.0
    smoother.smooth(0.0, [tracked(hidden)], {1})
    (out,) = smoother.smooth(0.2, [tracked(person(left_wrist=(400, 100)))], {1})
    assert out.keypoints[WRIST, :2].tolist() == [400.0, 100.0]


def test_no_time_passed_changes_nothing_and_breaks_nothing():
    one = OneEuroFilter()
    assert one(1.0, np.array([10.0])).tolist() == [10.0]
    assert one(1.0, np.array([50.0])).tolist() == [10.0]  # the same instant twice: no speed to know
    assert one(0.5, np.array([50.0])).tolist() == [10.0]  # from the past: ignored
    assert np.isfinite(one(1.2, np.array([50.0]))).all()


def test_filters_are_kept_for_ids_still_kept_and_dropped_for_ids_gone():
    smoother = KeypointSmoother()
    smoother.smooth(0.0, [tracked(person(), 1), tracked(person(), 2)], {1, 2})
    smoother.smooth(0.2, [tracked(person(), 2)], {1, 2})  # 1 missed for a frame: still kept
    assert len(smoother) == 2
    smoother.smooth(0.4, [tracked(person(), 2)], {2})  # 1 gone
    assert len(smoother) == 1
    smoother.smooth(0.6, [], set())
    assert len(smoother) == 0
