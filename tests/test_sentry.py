"""Sentry: one alert per appearance of an unknown person, posted to a webhook on
127.0.0.1 (retried, never holding up the eye), and only alert snapshots on disk."""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import skimage.data

from actors.cortexes.sentry import archive
from actors.cortexes.sentry.watch import Watch
from harness.brains import running_brain
from harness.configs import at_connect, models
from harness.pictures import ASTRONAUT, CAMERAMAN, frame, jpeg
from harness.waits import wait_until

COFFEE = jpeg(skimage.data.coffee())


def test_one_alert_per_appearance_of_an_unknown_person():
    watch = Watch(gone_after_s=2.0, confirm_frames=2)
    assert watch.see(0.0, person=True, known=False) is False  # one frame: not yet sure
    assert watch.see(0.5, person=True, known=False) is True  # two in a row: alert
    assert [watch.see(t, True, False) for t in (1.0, 1.5, 2.0)] == [False] * 3  # the same appearance
    assert watch.see(3.0, person=False, known=False) is False  # nobody for 1 s: still the same
    assert watch.see(3.5, True, False) is False
    assert watch.see(6.0, False, False) is False  # nobody for 2.5 s: over
    assert [watch.see(t, True, False) for t in (6.5, 7.0)] == [False, True]  # a new one


def test_a_known_face_breaks_the_run():
    watch = Watch(confirm_frames=2)
    assert [watch.see(t, True, k) for t, k in [(0, False), (1, True), (2, False), (3, True)]] == [False] * 4


def test_alert_snapshots_are_kept_for_their_days_only(tmp_path):
    day = 86_400.0
    now = 1_800_000_000.0
    archive.keep(tmp_path, b"old", "eye-1", now - 9 * day)
    kept = archive.keep(tmp_path, b"new", "eye/../2", now)
    (tmp_path / "notes").mkdir()  # not ours: left alone
    assert archive.purge(tmp_path, keep_days=7, now=now) == 1
    assert [p.read_bytes() for p in tmp_path.rglob("*.jpg")] == [b"new"]
    assert kept.name.endswith("-eye2.jpg")  # (no path in a name)


def test_alert_snapshots_are_for_the_brains_user_alone(tmp_path):
    """Issue 22, item 10: snapshots of people were in 0755 directories. Directories are 0700
    whatever the umask (the files are 0600 by the brain's: tests/test_private_data.py), and
    an alerts directory an older brain made 0755 is closed when the sentry starts (purges)."""
    kept = archive.keep(tmp_path / "new" / "alerts", b"jpeg", "eye-1")
    for directory in (kept.parent, kept.parent.parent, tmp_path / "new"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    older = tmp_path / "older"
    older.mkdir()
    older.chmod(0o755)
    archive.purge(older, keep_days=7)
    assert stat.S_IMODE(older.stat().st_mode) == 0o700


class Webhook:
    """A local webhook that records alerts; it can fail the first `failures` posts."""

    def __init__(self, failures: int = 0, delay_s: float = 0.0):
        self.posts: list[dict] = []
        self.failures = failures
        self.delay_s = delay_s
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(hook.delay_s)  # (the subject: a slow webhook)
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(503)
                else:
                    hook.posts.append(body)
                    self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"

    def close(self):
        self.server.shutdown()


def topology(tmp, url: str) -> str:
    return at_connect(f"""
[server]
max_frames_per_s = 100.0

{models("objects", "faces", "face-embeddings")}

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "faces"
type = "faces"
subscribes = ["image", "command"]
params = {{ store_dir = "{tmp / "faces"}", infer_timeout_ms = 60000 }}

[[cortex]]
name = "sentry"
type = "sentry"
subscribes = ["image"]
params = {{ store_dir = "{tmp / "faces"}", webhook_url = "{url}", alerts_dir = "{tmp / "alerts"}", gone_after_s = 1.0, webhook_backoff_s = 0.2, webhook_retries = 3, infer_timeout_ms = 60000 }}
""")


#: The models each cortex of the topology must have before a frame is worth sending.
NEEDS = {("faces", "faces"), ("faces", "face-embeddings")} | {
    ("sentry", m) for m in ("objects", "faces", "face-embeddings")
}


def models_ready(eye) -> None:
    """Every cortex has its models (one cortex's "ready" says nothing of another's)."""
    ready = set()
    while not NEEDS <= ready:
        status = eye.wait_for(lambda o: o["data"].get("state") == "ready" and "model" in o["data"], 120)
        ready.add((status["cortex"], status["data"]["model"]))


#: A JPEG cut short: the sentry refuses it at once, with an error (and leaves its watch alone).
BROKEN = COFFEE[: len(COFFEE) // 3]


def sentry_saw(eye, image: bytes) -> None:
    """Send a frame and wait until the sentry has looked at it: a broken frame sent right
    after waits for it (a frame cortex works on one frame at a time, in order, and drops
    only a frame still waiting when a newer one comes), so the sentry's refusal of that one
    comes once it has decided on this one."""
    eye.send(image)
    eye.send(BROKEN)
    eye.wait_for(lambda o: o["kind"] == "error" and o["cortex"] == "sentry" and "truncated" in o["text"], 60)


@pytest.fixture
def hook():
    webhook = Webhook(failures=2)  # the first two posts fail: the alert is retried
    yield webhook
    webhook.close()


def test_an_unknown_person_raises_one_alert_per_appearance_and_a_known_one_none(tmp_path, hook):
    with running_brain(topology(tmp_path, hook.url), tmp_path) as brain, brain.eye(max_size=None) as eye:
        models_ready(eye)
        # Eileen is enrolled: she raises no alert.
        eye.send(frame(ASTRONAUT))
        eye.send(json.dumps({"command": "enroll", "name": "Eileen"}))
        eye.wait_for(lambda o: o["kind"] == "enrolled", 30)
        for _ in range(3):
            sentry_saw(eye, frame(ASTRONAUT))
        assert not [o for o in eye.seen if o["kind"] == "alert"]
        sentry_saw(eye, COFFEE)
        time.sleep(1.2)  # (the subject: nobody in view for longer than gone_after_s, 1 s)
        sentry_saw(eye, COFFEE)  # nobody for over gone_after_s: Eileen's appearance is over
        # The cameraman is nobody we know: one alert, however long he stays.
        for _ in range(4):
            sentry_saw(eye, frame(CAMERAMAN))
        alert = eye.seen_or_wait(lambda o: o["kind"] == "alert", 30)
        assert alert["text"] == "An unknown person is in view; alert sent."
        assert wait_until(lambda: len(hook.posts) == 1, 15), hook.posts  # after two failures
        (post,) = hook.posts
        assert post["eye"] and post["time"].endswith("+00:00")
        assert base64.b64decode(post["snapshot"]["content"]) == frame(CAMERAMAN)
        # He leaves and comes back: a second appearance, a second alert.
        sentry_saw(eye, COFFEE)
        time.sleep(1.2)  # (the subject, as above: he is gone for longer than gone_after_s)
        sentry_saw(eye, COFFEE)
        for _ in range(2):
            sentry_saw(eye, frame(CAMERAMAN))
        assert wait_until(lambda: len(hook.posts) == 2, 15), hook.posts
        eye.seen_or_wait(lambda o: o["kind"] == "alert" and o["data"]["alerts"] == 2, 15)
        assert len([o for o in eye.seen if o["kind"] == "alert"]) == 2
        # On disk: the two alert snapshots, and no other frame.
        assert sorted(p.read_bytes() == frame(CAMERAMAN) for p in (tmp_path / "alerts").rglob("*")
                      if p.is_file()) == [True, True]  # fmt: skip


def test_a_dead_webhook_never_holds_up_the_eye(tmp_path):
    dead = Webhook(failures=100, delay_s=3.0)  # slow, then fails, every time
    try:
        with running_brain(topology(tmp_path, dead.url), tmp_path) as brain, brain.eye(max_size=None) as eye:
            models_ready(eye)
            for _ in range(3):
                sentry_saw(eye, frame(CAMERAMAN))
            eye.seen_or_wait(lambda o: o["kind"] == "alert", 30)
            started = time.monotonic()
            eye.send("are you there")  # while it retries
            assert eye.wait_for(lambda o: o["kind"] == "echo", 10)["text"] == "are you there"
            assert time.monotonic() - started < 2.0  # (one try of the webhook takes 3 s)
            failed = eye.wait_for(lambda o: o["kind"] == "error" and "could not be delivered" in o["text"], 30)
            assert "after 4 tries" in failed["text"] and "its snapshot is kept on disk" in failed["text"]
            eye.send("still here")
            assert eye.wait_for(lambda o: o["kind"] == "echo", 10)["text"] == "still here"
    finally:
        dead.close()


def test_the_sentry_topology_is_valid():
    from brain.config import load_config
    from harness import ROOT

    config = load_config(ROOT / "config" / "sentry.toml")
    assert [c.type for c in config.cortexes] == ["faces", "sentry"]
