"""A body's keypoints, made independent of where the person stands and how big they are.

A person is a float array [17,3]: (x, y, score) per COCO keypoint (KEYPOINTS), x and y in any unit with y growing downward, as in an image. Everything
here is pure numpy: the gesture rules and the "Teach it" features are built on it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["KEYPOINTS", "INDEX", "visible", "normalise", "upright", "head"]

# COCO's order, as MoveNet gives them; left and right are the subject's own.
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
INDEX = {name: i for i, name in enumerate(KEYPOINTS)}
_L_SHOULDER, _R_SHOULDER = INDEX["left_shoulder"], INDEX["right_shoulder"]
_L_HIP, _R_HIP = INDEX["left_hip"], INDEX["right_hip"]


def visible(person: np.ndarray, min_score: float) -> int:
    return int((person[:, 2] >= min_score).sum())


def normalise(person: np.ndarray) -> np.ndarray:
    """[17,2+] → [17,2]: centred on the hips' midpoint, scaled by max(2.5 × torso length,
    the largest distance from that centre), as the TF MoveNet pose-classification
    tutorial does. Where a body is in the frame and how big no longer matter."""
    points = np.asarray(person, np.float64)[:, :2]
    centre = (points[_L_HIP] + points[_R_HIP]) / 2
    shoulders = (points[_L_SHOULDER] + points[_R_SHOULDER]) / 2
    torso = np.linalg.norm(shoulders - centre)
    spread = np.linalg.norm(points - centre, axis=1).max()
    scale = max(2.5 * torso, spread)
    if scale <= 1e-9:  # every point in one place: nothing to see
        return np.zeros_like(points)
    return (points - centre) / scale


def upright(normalised: np.ndarray) -> np.ndarray:
    """Normalised points turned so that the hips → shoulders axis points straight up: the
    body's own frame, where "above the shoulders" still holds for a tilted camera."""
    shoulders = (normalised[_L_SHOULDER] + normalised[_R_SHOULDER]) / 2
    if np.linalg.norm(shoulders) <= 1e-9:
        return normalised
    # Turn by the angle from the torso's direction to straight up, (0, -1) with y down.
    turn = math.atan2(-1.0, 0.0) - math.atan2(shoulders[1], shoulders[0])
    cos, sin = math.cos(turn), math.sin(turn)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return normalised @ rotation.T


def head(person: np.ndarray, min_score: float) -> dict[str, float] | None:
    """{"yaw", "pitch"} in [-1, 1] from the face points, or None without a face.

    yaw > 0 when the nose points toward the right side of the image. By a rule of three
    on the eye–ear distances: turned right, the face's right-hand side (in the image)
    turns away and its eye–ear distance shrinks. Without an ear, on the nose's place
    between the eyes. pitch > 0 looking down: the nose drops below the eyes' line, by
    about half an eye distance for a face looking straight ahead, more looking down.
    """
    p = {name: person[INDEX[name]] for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")}
    seen = {name for name, point in p.items() if point[2] >= min_score}
    if not {"nose", "left_eye", "right_eye"} <= seen:
        return None
    eyes_mid = (p["left_eye"][:2] + p["right_eye"][:2]) / 2
    eye_distance = float(np.linalg.norm(p["left_eye"][:2] - p["right_eye"][:2]))
    if eye_distance <= 1e-9:
        return None
    if seen & {"left_ear", "right_ear"}:
        # Facing the camera, the subject's right eye and ear are on the image's left, each
        # ear outside its eye. In profile the far ear crosses to the other side of its eye
        # (signed distances go negative) and is placed there even when barely seen: one
        # ear seen is enough to use both.
        image_left = p["right_eye"][0] - p["right_ear"][0]
        image_right = p["left_ear"][0] - p["left_eye"][0]
        yaw = (image_left - image_right) / max(abs(image_left) + abs(image_right), 1e-9)
    else:
        yaw = (p["nose"][0] - eyes_mid[0]) / (eye_distance / 2)
    drop = (p["nose"][1] - eyes_mid[1]) / eye_distance
    pitch = (drop - NOSE_DROP_AHEAD) / NOSE_DROP_RANGE
    return {"yaw": round(float(np.clip(yaw, -1, 1)), 3), "pitch": round(float(np.clip(pitch, -1, 1)), 3)}


NOSE_DROP_AHEAD = 0.5  # nose below the eyes' line, in eye distances, looking ahead (0.48 on a frontal portrait)
NOSE_DROP_RANGE = 0.5  # … and how much more (or less) is a full look down (or up)
