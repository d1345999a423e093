"""Home Assistant MQTT discovery for one eye (pure): each eye a device whose entities read
its topics, available while both the brain and the eye are online.

<discovery_prefix>/<component>/<prefix>_<eye>/<entity>/config, retained; an empty
retained payload on the same topic removes the entity."""

from __future__ import annotations

from dataclasses import dataclass

from brain.home.changes import PEOPLE_SOURCES
from brain.home.topics import brain_status, eye_topic

__all__ = ["ENTITIES", "Entity", "configs", "config_topics"]


@dataclass(frozen=True)
class Entity:
    component: str  # Home Assistant's platform: sensor, binary_sensor, image
    key: str  # the entity's id within the eye's device
    name: str
    needs: tuple[str, ...]  # output kinds, any of which feeds it
    reads: str  # the topic under the eye's
    fields: tuple[tuple[str, object], ...] = ()


STATE = (("value_template", "{{ value_json.state }}"),)
ENTITIES = (
    Entity("sensor", "sees", "Sees", ("label",), "label", (*STATE, ("icon", "mdi:eye"))),
    Entity("sensor", "faces", "Faces", ("faces",), "faces", (*STATE, ("icon", "mdi:face-recognition"))),
    Entity(
        "sensor",
        "people",
        "People",
        PEOPLE_SOURCES,
        "people",
        (("value_template", "{{ value_json.count }}"), ("state_class", "measurement"), ("icon", "mdi:account-group")),
    ),
    Entity(
        "binary_sensor",
        "present",
        "Someone present",
        PEOPLE_SOURCES,
        "people",
        (("value_template", "{{ 'ON' if value_json.count > 0 else 'OFF' }}"), ("device_class", "occupancy")),
    ),
    Entity("sensor", "gesture", "Last gesture", ("gesture",), "gesture", (*STATE, ("icon", "mdi:hand-wave"))),
    Entity("sensor", "reaction", "Last reaction", ("reaction",), "reaction", (*STATE, ("icon", "mdi:emoticon"))),
    Entity("sensor", "class", "Class", ("class",), "class", (*STATE, ("icon", "mdi:school"))),
    Entity("image", "alert", "Last alert", ("alert",), "alert/snapshot", (("content_type", "image/jpeg"),)),
)


def _node(prefix: str, eye: str) -> str:
    return f"{prefix.replace('/', '_')}_{eye}"


def _topic(discovery_prefix: str, prefix: str, eye: str, entity: Entity) -> str:
    return f"{discovery_prefix}/{entity.component}/{_node(prefix, eye)}/{entity.key}/config"


def configs(discovery_prefix: str, prefix: str, eye: str, kinds: frozenset[str]) -> list[tuple[str, dict]]:
    """(topic, config) of each entity some of `kinds` (published by this topology) feeds."""
    node = _node(prefix, eye)
    device = {"identifiers": [node], "name": f"Cortical {eye}", "manufacturer": "Cortical", "model": "eye"}
    availability = [{"topic": brain_status(prefix)}, {"topic": eye_topic(prefix, eye, "status")}]
    out = []
    for entity in ENTITIES:
        if not kinds & set(entity.needs):
            continue
        config = {
            "name": entity.name,
            "unique_id": f"{node}_{entity.key}",
            "device": device,
            "origin": {"name": "Cortical"},
            "availability": availability,
            "availability_mode": "all",
            "image_topic" if entity.component == "image" else "state_topic": eye_topic(prefix, eye, entity.reads),
            **dict(entity.fields),
        }
        out.append((_topic(discovery_prefix, prefix, eye, entity), config))
    return out


def config_topics(discovery_prefix: str, prefix: str, eye: str) -> list[str]:
    """Every entity's config topic (an empty retained payload on each removes the eye)."""
    return [_topic(discovery_prefix, prefix, eye, entity) for entity in ENTITIES]
