"""Known faces name the tracked people they belong to (actors/cortexes/pose/names.py). Pure."""

from actors.cortexes.pose.names import Names, head_region
from actors.cortexes.pose.tracking import Tracked
from harness.poses import person


def at(id_: int, dx: float) -> Tracked:
    points = person()
    points[:, 0] += dx
    return Tracked(id_, (240 + dx, 80, 400 + dx, 500), points)


FACE = (300, 75, 340, 115)  # around STANDING's nose (320, 100)


def test_a_known_face_names_the_person_whose_head_holds_it_and_the_name_stays():
    names = Names(within_s=2.0)
    left, right = at(1, 0), at(2, 300)
    names.faces_seen(0.0, [(FACE, "Eileen"), ((600, 75, 640, 115), None)])
    assert names.names(0.1, [left, right], {1, 2}) == {1: "Eileen"}
    assert names.names(5.0, [left, right], {1, 2}) == {1: "Eileen"}  # turned away: still Eileen


def test_a_name_belongs_to_one_person_and_leaves_with_their_id():
    names = Names()
    left, right = at(1, 0), at(2, 300)
    names.faces_seen(0.0, [(FACE, "Eileen")])
    names.names(0.0, [left, right], {1, 2})
    names.faces_seen(1.0, [((600, 75, 640, 115), "Eileen")])  # now over the right one's head
    assert names.names(1.0, [left, right], {1, 2}) == {2: "Eileen"}
    assert names.names(2.0, [left], {1}) == {}  # id 2 no longer kept: the name is gone


def test_old_faces_name_nobody():
    names = Names(within_s=2.0)
    names.faces_seen(0.0, [(FACE, "Eileen")])
    assert names.names(3.0, [at(1, 0)], {1}) == {}


def test_without_head_points_the_top_of_the_box_is_the_head():
    nobody_head = at(1, 0)
    nobody_head.keypoints[:5, 2] = 0.0
    assert head_region(nobody_head, 0.3) == (240, 80, 400, 185)
