"""The house's side, pure: eye names, MQTT topics, what changed, Home Assistant discovery,
the house's commands, the backoff and the [mqtt] config, in milliseconds."""

import json

import pytest

from actors.messages import Output
from brain.config import ConfigError, parse_config
from brain.eye_names import Refused, brain_named, name_eye
from brain.home.changes import Changes, state_of
from brain.home.commands import Drop, Obey, Stale, command, route
from brain.home.discovery import ENTITIES, config_topics, configs
from brain.home.reconnects import Reconnects, Trouble
from brain.home.topics import eye_topic, inbound, subscriptions

ALL = frozenset({"label", "faces", "pose", "emotion", "gesture", "reaction", "class", "alert", "favourite", "event"})


def label(*names: str, text: str = "") -> Output:
    return Output(
        "objects", "label", text or ", ".join(names), {"detections": [{"label": n, "box": [0, 0, 1, 1]} for n in names]}
    )


# -- eye names ------------------------------------------------------------------------------


def test_an_eye_is_named_by_its_page_in_lower_case_or_by_the_brain():
    assert name_eye("Kitchen", 1, set(), 32) == "kitchen"
    assert name_eye("", 3, set(), 32) == "eye-3"
    assert name_eye(None, 3, {"eye-3", "eye-4"}, 32) == "eye-5"  # (eye-3 and eye-4 are still connected)
    assert brain_named("eye-3") and not brain_named("kitchen") and not brain_named("eye-x")


def test_a_page_may_not_take_a_name_the_brain_gives():
    refused = name_eye("Eye-7", 1, set(), 32)
    assert isinstance(refused, Refused) and not refused.retry and "the brain gives" in refused.reason


@pytest.mark.parametrize("bad", ["a b", "x/y", "+", "#", "-lead", "é", "a" * 33, "kitchen\x00", "../up"])
def test_a_name_that_cannot_be_a_topic_level_is_refused_for_good_with_a_short_sentence(bad):
    refused = name_eye(bad, 1, set(), 32)
    assert isinstance(refused, Refused) and not refused.retry
    assert "like ?eye=kitchen" in refused.reason and len(refused.reason.encode()) <= 123  # (a close reason)


def test_a_name_in_use_is_refused_until_it_is_free():
    refused = name_eye("kitchen", 1, {"kitchen"}, 32)
    assert isinstance(refused, Refused) and refused.retry and "already connected" in refused.reason
    assert len(refused.reason.encode()) <= 123


# -- topics and commands --------------------------------------------------------------------


def test_topics_under_the_prefix_name_the_eye_and_what():
    assert eye_topic("cortical", "kitchen", "label") == "cortical/kitchen/label"
    assert inbound("cortical", "cortical/kitchen/say") == ("kitchen", "say")
    assert inbound("home/cortical", "home/cortical/hall/eye") == ("hall", "eye")
    for other in ("cortical/status", "cortical/kitchen/alert/snapshot", "other/kitchen/say", "cortical//say"):
        assert inbound("cortical", other) is None
    assert subscriptions("cortical") == ["cortical/+/say", "cortical/+/eye", "cortical/+/status"]


def test_what_the_brain_hears_is_obeyed_dropped_or_put_right():
    eyes = {"kitchen"}
    obeyed = route("cortical", "cortical/kitchen/say", b"Hello", False, eyes, 100)
    assert isinstance(obeyed, Obey) and obeyed.eye == "kitchen" and obeyed.output.text == "Hello"
    assert route("cortical", "cortical/hall/say", b"Hello", False, eyes, 100).reason == "unknown_eye"
    assert route("cortical", "cortical/kitchen/eye", b"dance", False, eyes, 100).reason == "bad_command"
    replayed = route("cortical", "cortical/kitchen/say", b"Hello", True, eyes, 100)
    assert isinstance(replayed, Drop) and replayed.reason == "retained_command"  # (it would be said at every connect)
    assert route("cortical", "cortical/hall/status", b"online", True, eyes, 100) == Stale("hall", False)
    assert route("cortical", "cortical/eye-4/status", b"online", True, eyes, 100) == Stale("eye-4", True)
    assert route("cortical", "cortical/kitchen/status", b"online", True, eyes, 100) is None  # (ours)
    assert route("cortical", "cortical/hall/status", b"online", False, eyes, 100) is None  # (live, not left over)
    assert route("cortical", "elsewhere/kitchen/say", b"Hello", False, eyes, 100) is None


def test_the_house_makes_an_eye_speak_in_text_or_json():
    said = command("say", b"Dinner is ready", 100)
    assert (said.cortex, said.kind, said.text, said.data) == ("home", "say", "Dinner is ready", {"from": "mqtt"})
    said = command("say", json.dumps({"text": " Bonjour "}).encode(), 100)
    assert (said.kind, said.text) == ("say", "Bonjour")


def test_the_house_opens_closes_and_looks_as_the_voice_commands_do():
    for payload, action in [(b"open", "open_eyes"), (b"CLOSE", "close_eyes"), (b" look\n", "look")]:
        out = command("eye", payload, 100)
        assert (out.kind, out.data["action"]) == ("eye", action) and out.text


@pytest.mark.parametrize(
    "what, payload, why",
    [
        ("say", b"", "empty"),
        ("say", b"\xff\xfe", "not UTF-8"),
        ("say", b"x" * 101, "101 characters"),
        ("say", b'{"text": 3}', "JSON"),
        ("say", b'{"text": "\\ud800"}', "invalid Unicode"),
        ("eye", b"dance", "open, close or look"),
        ("status", b"online", "say or eye"),
    ],
)
def test_what_the_house_sends_wrong_is_dropped_with_a_reason(what, payload, why):
    result = command(what, payload, 100)
    assert isinstance(result, str) and why in result


# -- what changed -------------------------------------------------------------------------


def test_a_label_set_is_published_when_it_changes_not_every_frame():
    changes = Changes(ALL)
    first = changes.see(label("cup", "person"))
    assert [(p.what, p.retain) for p in first] == [("label", True), ("people", True)]
    assert first[0].payload["state"] == "cup, person" and first[1].payload["count"] == 1
    assert changes.see(label("person", "cup", text="cup (80%), person (60%)")) == []  # same set, new scores
    assert [p.what for p in changes.see(label("cup"))] == ["label", "people"]  # nobody now
    assert changes.people == 0
    assert [p.payload["state"] for p in changes.see(label())] == ["nothing"]


def test_events_are_published_each_time_and_not_retained():
    changes = Changes(ALL)
    gesture = Output("pose", "gesture", "Arms up", {"gesture": "arms_up", "person": 1})
    assert [(p.what, p.retain, p.payload["state"]) for p in changes.see(gesture)] == [("gesture", False, "arms_up")]
    assert len(changes.see(gesture)) == 1


def test_a_greeting_is_published_even_when_the_faces_are_the_same():
    changes = Changes(ALL)
    face = {"label": "Eileen", "name": "Eileen", "box": [0, 0, 1, 1]}
    assert [p.what for p in changes.see(Output("faces", "faces", "Hello, Eileen", {"faces": [face]}))] == [
        "faces",
        "people",
    ]
    assert changes.see(Output("faces", "faces", "", {"faces": [face]})) == []
    assert [p.what for p in changes.see(Output("faces", "faces", "Hello, Eileen", {"faces": [face]}))] == ["faces"]


def test_people_are_counted_by_the_detector_once_it_has_spoken():
    changes = Changes(ALL)
    two = Output("pose", "pose", "2 people", {"people": [{}, {}]})
    people = [p.payload for p in changes.see(two) if p.what == "people"]
    assert [(p["count"], p["from"]) for p in people] == [(2, "pose")]
    changes.see(label("person"))
    assert changes.people == 1
    assert [p.what for p in changes.see(two)] == []  # (the detector's count stands while it speaks)
    assert changes.people == 1
    later = Output("pose", "pose", "2 people", {"people": [{}, {}]}, ts=two.ts + 11)
    assert [p.payload["count"] for p in changes.see(later)] == [2]  # (… not once it has gone quiet)


def test_nobody_counted_for_a_while_is_nobody_there():
    changes = Changes(ALL, people_stale_s=10)
    two = Output("pose", "pose", "2 people", {"people": [{}, {}]}, ts=100.0)
    changes.see(two)
    assert changes.tick(109.0) == []
    gone = changes.tick(110.0)  # (the pose cortex said nothing of nobody; or the camera closed)
    assert [(p.what, p.payload["count"]) for p in gone] == [("people", 0)]
    assert changes.tick(200.0) == []  # (said once)
    assert [p.payload["count"] for p in changes.see(two) if p.what == "people"] == [2]  # back


def test_only_the_kinds_asked_for_go_out_and_an_alert_brings_its_snapshot_file():
    changes = Changes(frozenset({"alert"}))
    assert [p.what for p in changes.see(label("cup"))] == ["people"]  # (the count is always)
    alert = Output("sentry", "alert", "An unknown person is in view.", {"time": "t", "file": "/data/a.jpg"})
    published = changes.see(alert)
    assert [(p.what, p.file) for p in published] == [("alert", ""), ("alert/snapshot", "/data/a.jpg")]
    assert "file" not in published[0].payload["data"]  # (no path of the brain's goes out)


def test_a_state_fits_a_home_assistant_sensor():
    assert len(state_of(label(*[f"thing{i}" for i in range(80)]))) == 255
    assert state_of(Output("learned", "class", "cat (90%)", {"label": "cat"})) == "cat"


# -- discovery ------------------------------------------------------------------------------


def test_each_eye_is_a_device_whose_entities_read_its_topics_and_follow_its_status():
    found = dict(configs("homeassistant", "cortical", "kitchen", ALL))
    assert set(found) == set(config_topics("homeassistant", "cortical", "kitchen"))
    ids = {c["unique_id"] for c in found.values()}
    assert len(ids) == len(ENTITIES)
    for topic, config in found.items():
        assert topic.startswith("homeassistant/") and topic.endswith("/config")
        assert config["device"]["identifiers"] == ["cortical_kitchen"]
        assert [a["topic"] for a in config["availability"]] == ["cortical/status", "cortical/kitchen/status"]
        read = config.get("state_topic") or config["image_topic"]
        assert read.startswith("cortical/kitchen/")
        json.dumps(config)
    present = found["homeassistant/binary_sensor/cortical_kitchen/present/config"]
    assert present["state_topic"] == "cortical/kitchen/people" and present["device_class"] == "occupancy"
    image = found["homeassistant/image/cortical_kitchen/alert/config"]
    assert image["image_topic"] == "cortical/kitchen/alert/snapshot" and image["content_type"] == "image/jpeg"


def test_an_entity_nothing_in_the_topology_feeds_is_not_announced():
    found = dict(configs("homeassistant", "cortical", "hall", frozenset({"label"})))
    assert {t.split("/")[-2] for t in found} == {"sees", "people", "present"}
    assert configs("homeassistant", "cortical", "hall", frozenset({"event"})) == []


# -- backoff and config -----------------------------------------------------------------------


def test_reconnecting_doubles_its_wait_up_to_the_longest_and_tells_each_trouble_once():
    again = Reconnects(1, 30)
    waits = [again.failed(0, False) for _ in range(7)]
    assert [w for w, _ in waits] == [1, 2, 4, 8, 16, 30, 30]
    assert [t for _, t in waits] == [Trouble.UNREACHABLE] + [None] * 6
    assert again.connected(100) == "connected again"
    assert again.failed(101, False) == (30, Trouble.LOST)  # (up 1 s and nothing carried: not working yet)
    assert again.connected(200) == "connected again"
    again.delivered()
    assert again.failed(201, False) == (1, Trouble.LOST)  # (it carried a message: a new outage)


def test_a_broker_that_drops_the_brain_at_once_is_tried_ever_more_slowly():
    again = Reconnects(1, 30)
    waits = []
    for second in range(0, 700, 100):
        again.connected(second)
        waits.append(again.failed(second + 0.1, False)[0])
    assert waits == [1, 2, 4, 8, 16, 30, 30]


def test_refused_credentials_are_told_once_and_tried_at_the_slowest_pace():
    again = Reconnects(1, 30)
    assert again.failed(0, True) == (30, Trouble.REFUSED)
    assert again.failed(30, True) == (30, None)
    assert again.failed(60, False) == (4, Trouble.UNREACHABLE)  # (a new kind of trouble is told; the third failure)


@pytest.mark.parametrize(
    "mqtt, key",
    [
        ({"url": "http://broker"}, "mqtt.url"),
        ({"url": "mqtt://user:pw@broker"}, "mqtt.url"),
        ({"url": "mqtt://broker:99999"}, "mqtt.url"),
        ({"url": "mqtt://broker/topic"}, "mqtt.url"),
        ({"url": "mqtts://broker", "ca": "/no/such/ca.pem"}, "mqtt.ca"),
        ({"url": "mqtt://broker", "topic_prefix": "a/+"}, "mqtt.topic_prefix"),
        ({"url": "mqtt://broker", "topic_prefix": "/lead"}, "mqtt.topic_prefix"),
        ({"url": "mqtt://broker", "publish": ["say"]}, "mqtt.publish"),
        ({"url": "mqtt://broker", "qos": 3}, "mqtt.qos"),
        ({"url": "mqtt://broker", "reconnect_min_s": 5, "reconnect_max_s": 1}, "mqtt.reconnect_max_s"),
        ({"url": "mqtt://broker", "people_stale_s": 5.0}, "mqtt.people_stale_s"),  # (= eye.keep_alive_s)
    ],
)
def test_a_wrong_mqtt_section_names_its_key(mqtt, key):
    with pytest.raises(ConfigError) as error:
        parse_config({"mqtt": mqtt})
    assert error.value.key.startswith(key), error.value


def test_no_mqtt_section_means_nothing_is_published_and_a_url_gives_the_defaults():
    assert parse_config({}).mqtt.url == ""
    mqtt = parse_config({"mqtt": {"url": "mqtts://broker.home.arpa"}}).mqtt
    assert (mqtt.topic_prefix, mqtt.discovery, mqtt.discovery_prefix, mqtt.qos) == (
        "cortical",
        True,
        "homeassistant",
        1,
    )
