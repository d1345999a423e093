"""pose: the cortex, and its pure parts: the body's normalisation and head direction, the
gesture rules, the debounce."""

from actors.cortexes.pose.cortex import Pose

__all__ = ["Pose"]
