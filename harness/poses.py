"""Poses for tests: a person's keypoints, standing, some of them moved."""

from __future__ import annotations

import numpy as np

from actors.cortexes.pose.body import KEYPOINTS

# A person standing facing the camera, in pixels (y down), every point seen: their own
# left is on the image's right.
STANDING = {
    "nose": (320, 100), "left_eye": (332, 90), "right_eye": (308, 90), "left_ear": (345, 95),
    "right_ear": (295, 95), "left_shoulder": (370, 160), "right_shoulder": (270, 160),
    "left_elbow": (385, 230), "right_elbow": (255, 230), "left_wrist": (390, 295),
    "right_wrist": (250, 295), "left_hip": (350, 300), "right_hip": (290, 300),
    "left_knee": (350, 400), "right_knee": (290, 400), "left_ankle": (350, 490), "right_ankle": (290, 490),
}  # fmt: skip


def person(**moved) -> np.ndarray:
    """Keypoints [17,3] of STANDING, some moved: {"left_wrist": (x, y)}."""
    points = {**STANDING, **moved}
    return np.array([[*points[name], 0.9] for name in KEYPOINTS], np.float64)
