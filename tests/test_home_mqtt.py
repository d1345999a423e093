"""The house, with real parts: a real brain and a real Mosquitto (each test's own, on a free
port). What an eye sees reaches its topics, Home Assistant's discovery describes it, the
house makes an eye speak, and the brain rides out a broker that is late, lost or strict."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import urllib.request

import pytest
import skimage
from websockets.exceptions import ConnectionClosed

from harness.brains import brain_state, free_port, metric, running_brain
from harness.certs import self_signed
from harness.configs import models
from harness.eyes import ready_eye
from harness.mqtt import Listener, Mosquitto, retained
from harness.pages import ARTIFACTS, FLAGS, open_page
from harness.pictures import ASTRONAUT, frame, jpeg
from harness.poses import person
from harness.waits import wait_until

ARMS_UP = person(left_elbow=(385, 110), right_elbow=(255, 110), left_wrist=(390, 50), right_wrist=(250, 50))
EVENTS_TOKEN = "door-bell-secret"


def echo_brain(url: str, mqtt: str = "") -> str:
    return f"""
[mqtt]
url = "{url}"
reconnect_min_s = 0.1
reconnect_max_s = 0.5
{mqtt}

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]
"""


def seeing_brain(url: str, tmp) -> str:
    return f"""
[eye]
keep_alive_s = 1.0

[mqtt]
url = "{url}"
people_stale_s = 2.0
{models("objects", "pose", "faces", "face-embeddings")}

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "objects"
type = "objects"
subscribes = ["image"]
params = {{ model = "objects", infer_timeout_ms = 60000 }}

[[cortex]]
name = "pose"
type = "pose"
subscribes = ["pose"]
params = {{ model = "pose", infer_timeout_ms = 60000 }}

[[cortex]]
name = "sentry"
type = "sentry"
subscribes = ["image"]
params = {{ store_dir = "{tmp}/faces", alerts_dir = "{tmp}/alerts", confirm_frames = 1, infer_timeout_ms = 60000 }}
"""


def fresh(folder):
    folder.mkdir()
    return folder


def echoes(eye, text: str = "still there?") -> None:
    """The brain still answers this eye."""
    eye.send(json.dumps({"text": text}))
    eye.wait_for(lambda o: o["kind"] == "echo" and o["text"].endswith(text), 30)


def post_event(brain, text: str, to: str = "all") -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{brain.events_port}/events",
        json.dumps({"text": text, "to": to}).encode(),
        {"Authorization": f"Bearer {EVENTS_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202


# -- one seeing brain, one broker ----------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("home")
    broker = Mosquitto(tmp)
    try:
        with running_brain(seeing_brain(broker.url, tmp), tmp) as brain:
            listener = Listener(broker, ["cortical/#", "homeassistant/#"])
            try:
                yield broker, brain, listener
            finally:
                listener.close()
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def kitchen(home):
    broker, brain, listener = home
    eye = ready_eye(brain, models=4, name="Kitchen")
    try:
        yield eye
    finally:
        eye.close()


def test_the_brain_and_a_named_eye_are_online_and_home_assistant_finds_the_eye_as_a_device(home, kitchen):
    broker, brain, listener = home
    assert retained(broker, "cortical/status") == b"online"
    assert retained(broker, "cortical/kitchen/status") == b"online"
    assert [s["eye"] for s in brain_state(brain)["sessions"]] == ["kitchen"]
    assert brain_state(brain)["home"]["state"] == "connected"
    assert metric(brain, "cortical_mqtt_connected") == 1 and metric(brain, "cortical_mqtt_published_total") > 0
    seen = Listener(broker, ["homeassistant/#"])  # a Home Assistant that starts now
    try:
        assert wait_until(lambda: len({h.topic for h in seen.heard}) >= 5, 10)
        configs = {h.topic: json.loads(h.payload) for h in seen.heard}
        assert all(h.retain for h in seen.heard)
    finally:
        seen.close()
    # (what this topology feeds: objects, pose and sentry; no faces cortex, so no faces sensor)
    entities = {topic.split("/")[1] + "/" + topic.split("/")[3] for topic in configs}
    assert entities == {"sensor/sees", "sensor/people", "binary_sensor/present", "sensor/gesture", "image/alert"}
    for config in configs.values():
        assert config["device"]["name"] == "Cortical kitchen"
        assert [a["topic"] for a in config["availability"]] == ["cortical/status", "cortical/kitchen/status"]
        assert (config.get("state_topic") or config["image_topic"]).startswith("cortical/kitchen/")
    echoes(kitchen)


def test_what_the_eye_sees_and_its_gestures_arrive_on_their_topics_once_each_change(home, kitchen):
    broker, brain, listener = home
    cup = jpeg(skimage.data.coffee())
    before = len(listener.on("cortical/kitchen/label"))
    for _ in range(3):
        kitchen.send(cup)
        kitchen.wait_for(lambda o: o["kind"] == "label", 60)
    seen = listener.wait_for("cortical/kitchen/label", lambda p: "cup" in json.loads(p)["state"])
    said = json.loads(seen.payload)
    assert said["kind"] == "label" and said["data"]["detections"] and said["time"]
    assert len(listener.on("cortical/kitchen/label")) == before + 1  # three frames, one change
    assert json.loads(listener.wait_for("cortical/kitchen/people").payload)["count"] == 0
    pose = json.dumps({"pose": {"width": 640, "height": 480, "people": [{"keypoints": ARMS_UP.tolist()}]}})
    one = lambda p: json.loads(p)["count"] == 1  # noqa: E731
    # Keypoints only, as privacy mode sends: once the detector's count of the cup photo has gone
    # stale (people_stale_s), the pose cortex's counts.
    assert wait_until(
        lambda: kitchen.send(pose) or any(one(h.payload) for h in listener.on("cortical/kitchen/people")), 20, 0.2
    )
    kitchen.seen_or_wait(lambda o: o["kind"] == "gesture", 30)
    gesture = json.loads(listener.wait_for("cortical/kitchen/gesture").payload)
    assert gesture["state"] == "arms_up" and gesture["cortex"] == "pose"
    # The pose cortex says nothing of nobody: once the eye stops, the count goes to 0 by itself,
    # and Home Assistant's "Someone present" turns off.
    counted = listener.wait_for("cortical/kitchen/people", one)
    gone = listener.wait_for("cortical/kitchen/people", lambda p: json.loads(p)["from"] == "nothing counted lately", 10)
    assert json.loads(gone.payload)["count"] == 0 and gone.at > counted.at
    echoes(kitchen)


def test_an_alert_sends_its_snapshot_as_a_retained_jpeg(home, kitchen):
    broker, brain, listener = home
    for _ in range(3):
        kitchen.send(frame(ASTRONAUT))
        kitchen.wait_for(lambda o: o["kind"] == "label", 60)
    kitchen.seen_or_wait(lambda o: o["kind"] == "alert", 60)
    alert = json.loads(listener.wait_for("cortical/kitchen/alert").payload)
    assert alert["text"].startswith("An unknown person is in view") and "file" not in alert["data"]
    snapshot = listener.wait_for("cortical/kitchen/alert/snapshot").payload
    assert snapshot.startswith(b"\xff\xd8") and len(snapshot) > 10_000
    assert retained(broker, "cortical/kitchen/alert/snapshot") == snapshot
    echoes(kitchen)


def test_the_house_makes_the_eye_speak_and_open_and_what_it_gets_wrong_is_dropped(home, kitchen):
    broker, brain, listener = home
    listener.publish("cortical/kitchen/say", "Dinner is ready")
    said = kitchen.wait_for(lambda o: o["kind"] == "say", 10)
    assert (said["cortex"], said["text"]) == ("home", "Dinner is ready")
    for word, action in [("open", "open_eyes"), ("close", "close_eyes"), ("look", "look")]:
        listener.publish("cortical/kitchen/eye", word)
        assert kitchen.wait_for(lambda o: o["kind"] == "eye", 10)["data"]["action"] == action
    unknown, bad = (
        metric(brain, f'cortical_mqtt_dropped_total{{reason="{reason}"}}') for reason in ("unknown_eye", "bad_command")
    )
    listener.publish("cortical/hall/say", "Nobody hears this")
    listener.publish("cortical/kitchen/eye", "dance")
    assert wait_until(lambda: metric(brain, 'cortical_mqtt_dropped_total{reason="unknown_eye"}') == unknown + 1, 10)
    assert wait_until(lambda: metric(brain, 'cortical_mqtt_dropped_total{reason="bad_command"}') == bad + 1, 10)
    assert "no eye named 'hall' is connected" in brain.log and "'dance' is not an eye command" in brain.log
    echoes(kitchen)
    assert not [o for o in kitchen.seen if o["text"] == "Nobody hears this"]


def test_an_eye_that_leaves_goes_offline_and_one_the_brain_named_is_forgotten(home, kitchen):
    broker, brain, listener = home
    with brain.eye() as unnamed:
        name = unnamed.wait_for(lambda o: o["data"].get("connected"), 10)["data"]["eye"]
        assert name.startswith("eye-")
        unnamed.wait_ready(30)
        listener.wait_for(f"cortical/{name}/status", b"online")
        listener.wait_for(f"homeassistant/sensor/cortical_{name}/sees/config")
        unnamed.send(jpeg(skimage.data.coffee()))
        listener.wait_for(f"cortical/{name}/label")
    listener.wait_for(f"cortical/{name}/status", b"offline")
    removed = listener.wait_for(f"homeassistant/sensor/cortical_{name}/sees/config", b"")
    assert removed.payload == b""  # (an empty retained config: Home Assistant removes the entity)
    listener.wait_for(f"cortical/{name}/label", b"")  # … and the broker forgets what it saw
    assert retained(broker, f"cortical/{name}/label", 1) is None
    assert retained(broker, f"cortical/{name}/status") == b"offline"
    assert retained(broker, "homeassistant/sensor/cortical_kitchen/sees/config")  # (the named eye's stays)
    with brain.eye("kitchen") as twin:  # the name is taken: refused until it is free
        with pytest.raises(ConnectionClosed) as closed:
            twin.ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1013 and "An eye named kitchen is already connected" in closed.value.rcvd.reason
    echoes(kitchen)


# -- brains and brokers coming and going ----------------------------------------------------


def test_a_brain_that_stops_says_offline_and_one_that_dies_leaves_its_last_will(tmp_path):
    broker = Mosquitto(tmp_path)
    try:
        listener = Listener(broker, ["cortical/#"])
        with running_brain(echo_brain(broker.url), fresh(tmp_path / "a")) as brain:
            with brain.eye("porch") as eye:
                eye.wait_ready(30)
                listener.wait_for("cortical/status", b"online")
                listener.wait_for("cortical/porch/status", b"online")
            brain.proc.send_signal(signal.SIGTERM)
            brain.proc.wait(30)
        assert retained(broker, "cortical/status") == b"offline"
        assert retained(broker, "cortical/porch/status") == b"offline"
        with running_brain(echo_brain(broker.url), fresh(tmp_path / "b")) as brain:
            with brain.eye("porch") as eye:
                eye.wait_ready(30)
                assert wait_until(lambda: retained(broker, "cortical/porch/status", 1) == b"online", 20)
                brain.proc.kill()  # no goodbye: the broker publishes the will
                brain.proc.wait(30)
            assert wait_until(lambda: retained(broker, "cortical/status", 1) == b"offline", 20)
        assert retained(broker, "cortical/porch/status") == b"online"  # (nobody said goodbye for it)
        listener.publish("cortical/porch/say", "Said at every connect", retain=True)  # (a careless automation)
        with running_brain(echo_brain(broker.url), fresh(tmp_path / "c")) as brain:
            # The next brain puts it right: no eye of its own is the porch.
            assert wait_until(lambda: retained(broker, "cortical/porch/status", 1) == b"offline", 20)
            assert retained(broker, "cortical/status") == b"online"
            # … and does not obey a retained command, which the broker hands over at every connect
            assert metric(brain, 'cortical_mqtt_dropped_total{reason="retained_command"}') == 1
            assert "a retained say is not obeyed" in brain.log
            with brain.eye("porch") as eye:  # (and answers, the command dropped)
                eye.wait_ready(30)
                echoes(eye)
        listener.close()
    finally:
        broker.stop()


def test_a_brain_started_before_its_broker_serves_says_so_once_and_connects_when_it_comes(tmp_path):
    port = free_port()
    with running_brain(echo_brain(f"mqtt://127.0.0.1:{port}"), tmp_path) as brain:
        with brain.eye("hall") as eye:
            eye.wait_ready(30)
            echoes(eye)  # (no broker: the eye is served anyway)
            assert wait_until(lambda: brain_state(brain)["home"]["state"] == "unreachable", 10)
            assert wait_until(lambda: brain.log.count("MQTT: cannot reach the broker at") == 1, 10)
            broker = Mosquitto(tmp_path, port)
            try:
                listener = Listener(broker, ["cortical/#"])
                listener.wait_for("cortical/status", b"online", 30)
                listener.wait_for("cortical/hall/status", b"online", 10)
                assert wait_until(lambda: brain_state(brain)["home"]["state"] == "connected", 5)  # (cached 0.5 s)
                listener.close()
            finally:
                broker.stop()
            echoes(eye)
        assert brain.log.count("MQTT: cannot reach the broker at") == 1  # (said once, however often it tried)


def test_a_broker_killed_and_restarted_gets_what_waited_and_what_overflowed_is_counted(tmp_path):
    broker = Mosquitto(tmp_path, persist=True)
    try:
        with running_brain(
            echo_brain(broker.url, "max_queued = 3"), tmp_path, env={"CORTICAL_EVENTS_TOKEN": EVENTS_TOKEN}
        ) as brain:
            with brain.eye("door") as eye:
                eye.wait_ready(30)
                # The house keeps a session on the broker: what the brain sends on coming back
                # reaches it, whichever of the two reconnects first.
                house = Listener(broker, ["cortical/door/event"], session="house")
                post_event(brain, "ring 0", to="door")  # (an eye's name, as POST /events may give)
                house.wait_for("cortical/door/event", lambda p: json.loads(p)["text"] == "ring 0")
                heard_ring_0 = time.time()
                assert wait_until(lambda: broker.saved(heard_ring_0), 10)  # (its session, saved after ring 0)
                broker.kill()
                assert wait_until(lambda: brain_state(brain)["home"]["state"] == "unreachable", 30)
                for ring in range(1, 7):
                    post_event(brain, f"ring {ring}")
                    eye.wait_for(lambda o: o["text"] == f"ring {ring}", 10)
                echoes(eye)  # (the eye is served while the broker is away)
                assert metric(brain, 'cortical_mqtt_dropped_total{reason="queue_full"}') == 3
                broker.start()
                house.wait_for("cortical/door/event", lambda p: json.loads(p)["text"] == "ring 6", 30)
                rings = [json.loads(h.payload)["text"] for h in house.on("cortical/door/event")]
                # the newest three waited (QoS 1: a message may come twice, never lost)
                assert list(dict.fromkeys(rings)) == ["ring 0", "ring 4", "ring 5", "ring 6"]
                assert "MQTT: lost the broker at" in brain.log and "MQTT: connected to" in brain.log
                house.close()
                echoes(eye)
    finally:
        broker.stop()


def test_a_broker_that_refuses_the_password_gets_one_log_line_and_no_retry_storm(tmp_path):
    broker = Mosquitto(tmp_path, user=("cortical", "right-secret"))
    env = {"CORTICAL_MQTT_USER": "cortical", "CORTICAL_MQTT_PASSWORD": "wrong"}
    try:
        with running_brain(echo_brain(broker.url), fresh(tmp_path / "wrong"), env=env) as brain:
            with brain.eye("attic") as eye:
                eye.wait_ready(30)
                assert wait_until(lambda: brain_state(brain)["home"]["state"] == "refused", 10)
                tried, since = broker.log.count("not authorised"), time.monotonic()
                assert wait_until(lambda: broker.log.count("not authorised") >= tried + 3, 10)  # (it does try)
                took = time.monotonic() - since
                echoes(eye)
            refusals = [line for line in brain.log.splitlines() if "refused the user name or password" in line]
            assert len(refusals) == 1 and "CORTICAL_MQTT_PASSWORD" in refusals[0]
            # 3 tries at least 0.5 s apart (reconnect_max_s): a storm would make them in milliseconds
            assert took >= 1.0
        env["CORTICAL_MQTT_PASSWORD"] = "right-secret"
        with running_brain(echo_brain(broker.url), fresh(tmp_path / "right"), env=env) as brain:
            assert wait_until(lambda: brain_state(brain)["home"]["state"] == "connected", 10)
    finally:
        broker.stop()


def test_the_page_shows_its_eye_name_and_the_brain_view_shows_it_with_the_house(home, kitchen, tmp_path):
    broker, brain, listener = home
    ARTIFACTS.mkdir(exist_ok=True)

    async def check(page):
        await page.wait_for_function("document.querySelector('#eye-name').textContent === 'eye: porch'", timeout=60_000)
        title = await page.title()
        await page.screenshot(path=str(ARTIFACTS / "eye-page-named.png"))
        view = await page.context.new_page()
        await view.goto(brain.url + "/brain")
        await view.wait_for_function(
            "document.querySelector('#tree').textContent.includes('eye porch')", timeout=20_000
        )
        tree = await view.evaluate("document.querySelector('#tree').textContent")
        await view.screenshot(path=str(ARTIFACTS / "brain-view-named.png"))
        listener.publish("cortical/porch/say", "Dinner is ready")  # the house speaks through the eye
        await page.wait_for_function(
            "document.querySelector('#transcript').textContent.includes('Dinner is ready')", timeout=10_000
        )
        said = await page.locator("#transcript li", has_text="Dinner is ready").first.inner_text()
        refused = await view.context.new_page()
        await refused.goto(brain.url + "/?eye=front%20door")
        await refused.wait_for_function("document.querySelector('#status').dataset.tone === 'error'", timeout=20_000)
        return title, tree, said, await refused.inner_text("#status")

    title, tree, said, refusal = asyncio.run(open_page(brain.url + "/?eye=porch", FLAGS, True, check))
    assert title == "Cortical — porch"
    assert "MQTT connected" in tree
    assert said.startswith("home") and "Dinner is ready" in said
    assert refusal == "Eye name refused: use up to 32 letters, digits, - or _, like ?eye=kitchen."
    listener.wait_for("cortical/porch/status", b"online")
    echoes(kitchen)  # (the refused page cost the brain nothing)


def test_mqtts_with_the_brokers_ca_connects_and_without_it_is_refused_in_one_sentence(tmp_path):
    cert, key = self_signed(tmp_path)
    broker = Mosquitto(tmp_path, tls=(cert, key))
    try:
        url = f"mqtts://127.0.0.1:{broker.tls_port}"
        listener = Listener(broker, ["cortical/#"])  # (on the plain port)
        with running_brain(echo_brain(url, f'ca = "{cert}"'), fresh(tmp_path / "ca")) as brain:
            listener.wait_for("cortical/status", b"online", 20)
            assert wait_until(lambda: brain_state(brain)["home"]["state"] == "connected", 5)
        listener.close()
        with running_brain(echo_brain(url), fresh(tmp_path / "no-ca")) as brain:  # the system's CAs: not ours
            with brain.eye("cellar") as eye:
                eye.wait_ready(30)
                assert wait_until(lambda: brain_state(brain)["home"]["state"] == "unreachable", 10)
                assert "certificate verify failed" in brain_state(brain)["home"]["detail"]
                echoes(eye)
            assert brain.log.count("MQTT: cannot reach the broker at") == 1
    finally:
        broker.stop()


def test_a_broker_that_never_answers_slows_no_eye_and_does_not_hold_up_the_brains_stop(tmp_path):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, then never says a word
    port = silent.getsockname()[1]
    try:
        with running_brain(echo_brain(f"mqtt://127.0.0.1:{port}"), tmp_path) as brain:
            with brain.eye("loft") as eye:
                eye.wait_ready(30)
                for n in range(5):
                    started = time.monotonic()
                    echoes(eye, f"are you there {n}")
                    assert time.monotonic() - started < 5  # (the MQTT client waits on its own)
                assert brain_state(brain)["home"]["state"] in ("connecting", "unreachable")
            started = time.monotonic()
            brain.proc.send_signal(signal.SIGTERM)
            assert brain.proc.wait(30) == 0
            stopping = time.monotonic() - started
        assert stopping < 15, f"the brain took {stopping:.1f} s to stop"
        assert "Task was destroyed" not in brain.log
    finally:
        silent.close()
