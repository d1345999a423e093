"""The MQTT topics of a brain and its eyes (pure).

<prefix>/status                 online / offline (retained; offline is also the last will)
<prefix>/<eye>/status           online / offline (retained)
<prefix>/<eye>/<kind>           an output that changed what the house knows (JSON)
<prefix>/<eye>/people           how many people it sees (JSON, retained)
<prefix>/<eye>/alert/snapshot   the last alert's JPEG (retained)
<prefix>/<eye>/say, …/eye       from the house: words to speak, open / close / look
"""

from __future__ import annotations

__all__ = ["INBOUND", "brain_status", "eye_topic", "inbound", "subscriptions"]

#: What the house may send an eye.
INBOUND = ("say", "eye")


def brain_status(prefix: str) -> str:
    return f"{prefix}/status"


def eye_topic(prefix: str, eye: str, what: str) -> str:
    return f"{prefix}/{eye}/{what}"


def subscriptions(prefix: str) -> list[str]:
    """Commands for any eye, and eye statuses (a dead brain's retained "online" is put right)."""
    return [eye_topic(prefix, "+", what) for what in (*INBOUND, "status")]


def inbound(prefix: str, topic: str) -> tuple[str, str] | None:
    """(eye, what) of a topic under `prefix` with one eye level, else None."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]
