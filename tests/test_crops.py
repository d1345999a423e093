"""Where the pose cortex looks for people (actors/cortexes/pose/crops.py). Pure."""

import numpy as np

from actors.cortexes.pose.crops import (
    CropSettings,
    Square,
    decode_side,
    plan,
    same_people,
    to_frame,
    wait_for_boxes,
    whole_frame,
)


def test_nobody_known_means_the_whole_frame_as_before():
    assert plan([], [], 640, 480) == [whole_frame(640, 480)] == [Square(0, 0, 640)]


def test_one_crop_per_person_a_little_larger_than_their_box():
    (square,) = plan([], [(100, 100, 200, 400)], 640, 480)
    assert square.side == 300 * 1.3
    assert (square.x + square.side / 2, square.y + square.side / 2) == (150, 250)  # centred on the box


def test_a_frame_waits_for_its_own_boxes_only_with_nothing_else_to_go_by():
    # An eye back after a pause (or one frame every few seconds): nobody tracked, boxes stale.
    assert wait_for_boxes([], boxes_fresh=False, hears_boxes=True)
    # Somebody tracked, or boxes of the last frame (a live eye): no waiting.
    assert not wait_for_boxes([(0, 0, 100, 200)], boxes_fresh=False, hears_boxes=True)
    assert not wait_for_boxes([], boxes_fresh=True, hears_boxes=True)
    # No objects cortex in the topology: nothing would come.
    assert not wait_for_boxes([], boxes_fresh=False, hears_boxes=False)


def test_a_tracked_person_inside_a_detected_box_adds_no_crop_and_a_new_one_does():
    detected = [(100, 50, 220, 450)]
    tracked = [(120, 60, 200, 250), (400, 80, 520, 420)]  # the first: only the upper body was seen
    squares = plan(tracked, detected, 640, 480)
    assert len(squares) == 2
    assert squares[0] == plan([], detected, 640, 480)[0]  # the detector's whole body first


def test_a_detected_box_around_two_tracked_people_gives_way_to_their_own_crops():
    # Two people one above the other (a group photo's two rows): the detector saw one tall box.
    detected = [(0, 0, 200, 480), (400, 0, 600, 240)]
    tracked = [(10, 10, 190, 230), (15, 250, 195, 470), (410, 10, 590, 230)]
    squares = plan(tracked, detected, 640, 480)
    assert len(squares) == 3
    assert squares[0] == plan([], detected[1:], 640, 480)[0]  # the lone person's detector box stays
    assert {(s.x + s.side / 2, s.y + s.side / 2) for s in squares[1:]} == {(100, 120), (105, 360)}


def test_boxes_too_small_or_outside_the_frame_are_nobody_and_crops_are_bounded():
    assert plan([], [(10, 10, 30, 70), (700, 10, 800, 300)], 640, 480) == [whole_frame(640, 480)]
    many = [(i * 20, 0, i * 20 + 60, 200) for i in range(30)]  # 30 people, overlapping little
    assert len(plan([], many, 640, 480, CropSettings(same_iou=0.9))) == 6


def test_keypoints_return_to_the_frames_pixels():
    points = np.array([[0.5, 0.25, 0.9]] * 17)
    back = to_frame(points, Square(-50, 100, 200))
    assert back[0].tolist() == [50.0, 150.0, 0.9]


def test_a_jpeg_is_decoded_as_small_as_every_crop_allows():
    assert decode_side(640, 480, [whole_frame(640, 480)], 192) == 144  # a quarter of the pixels
    assert decode_side(640, 480, [Square(0, 0, 96)], 192) == 480  # a small person: full size


def test_two_skeletons_over_one_person_keep_the_surer():
    boxes = [(0, 0, 100, 200), (5, 5, 100, 210), (300, 0, 400, 200)]
    assert same_people(boxes, [0.4, 0.7, 0.5]) == [1, 2]
