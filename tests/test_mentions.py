"""Mentions from a local server speaking the X API v2, and events pushed with POST /events."""

import json
import urllib.error
import urllib.request

import pytest

from actors.cortexes.mentions.x_api import next_poll_in, parse_page
from harness.brains import running_brain
from harness.fake_x import FakeX
from harness.waits import wait_until

TOKEN = "x-test-token"


def config(fake: FakeX, state_dir, poll_every_s: float = 0.3) -> str:
    return f"""
[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "mentions"
type = "mentions"
[cortex.params]
user_id = "{fake.user_id}"
base_url = "{fake.url}"
bearer_token_env = "TEST_X_TOKEN"
poll_every_s = {poll_every_s}
timeout_s = 1.0
max_backoff_s = 2.0
state_dir = "{state_dir}"
"""


def mentions_of(eye, count: int, timeout: float = 20) -> list[dict]:
    return [eye.wait_for(lambda o: o["kind"] == "mention", timeout) for _ in range(count)]


@pytest.fixture
def fake():
    server = FakeX(token=TOKEN)
    server.mention("old news")  # there before the brain: not announced
    yield server
    server.close()


@pytest.fixture
def brain(fake, tmp_path):
    with running_brain(
        config(fake, tmp_path / "state"),
        tmp_path,
        env={"TEST_X_TOKEN": TOKEN, "CORTICAL_EVENTS_TOKEN": "door-bell-secret"},
    ) as running:
        yield running


def first_poll_done(fake) -> bool:
    return len(fake.mention_requests()) >= 1


def test_new_mentions_are_announced_unasked(brain, fake):
    with brain.eye() as eye:
        eye.wait_ready()
        assert wait_until(lambda: first_poll_done(fake), 10)
        tweet = fake.mention("are you awake?", author="102")
        (mention,) = mentions_of(eye, 1)
        assert mention["text"] == "@bob mentioned you: are you awake?"
        assert mention["data"]["id"] == tweet and mention["data"]["username"] == "bob"
        assert mention["data"]["created_at"].endswith("Z")
        # since_id from then on, so nothing comes twice
        assert wait_until(lambda: fake.mention_requests()[-1]["query"].get("since_id") == tweet, 5)
        assert fake.mention_requests()[-1]["auth"] == f"Bearer {TOKEN}"
        # Three more polls, then an echo behind anything they sent: the mention came once.
        polls = len(fake.mention_requests())
        assert wait_until(lambda: len(fake.mention_requests()) >= polls + 3, 10)
        assert eye.ask("anything more?")["text"] == "anything more?"
        assert [o for o in eye.seen if o["kind"] == "mention"] == [mention]


def test_all_pages_are_read_and_told_oldest_first(brain, fake):
    fake.page_size = 2
    with brain.eye() as eye:
        eye.wait_ready()
        assert wait_until(lambda: first_poll_done(fake), 10)
        texts = [f"mention {i}" for i in range(5)]
        for text in texts:
            fake.mention(text)
        assert [m["text"].split(": ", 1)[1] for m in mentions_of(eye, 5)] == texts
        assert any("pagination_token" in r["query"] for r in fake.mention_requests())


def test_a_storm_of_faults_is_survived_and_retried(brain, fake):
    with brain.eye() as eye:
        eye.wait_ready()
        assert wait_until(lambda: first_poll_done(fake), 10)
        fake.faults = ["429", "500", "slow", "malformed"]  # one poll each, in a row
        fake.mention("after the storm")
        (mention,) = mentions_of(eye, 1, timeout=30)
        assert mention["text"] == "@alice mentioned you: after the storm"
        assert not fake.faults  # every fault was met on the way
        failures = [line for line in brain.log_lines if "X mentions poll for user" in line and "failed" in line]
        assert len(failures) >= 4, brain.log
        assert eye.ask("still here")["text"] == "still here"


def test_a_spent_rate_limit_waits_for_the_reset(brain, fake):
    with brain.eye() as eye:
        eye.wait_ready()
        assert wait_until(lambda: first_poll_done(fake), 10)
        fake.reset_in_s = 3
        fake.faults = ["rate-spent"]
        assert wait_until(lambda: len(fake.mention_requests()) >= 3, 15)
        requests = fake.mention_requests()
        gaps = [b["at"] - a["at"] for a, b in zip(requests, requests[1:])]
        assert max(gaps) >= 1.5, gaps  # waited for the reset, not the 0.3 s interval


def test_two_eyes_share_one_poller(brain, fake):
    with brain.eye() as first, brain.eye() as second:
        first.wait_ready()
        second.wait_ready()
        assert wait_until(lambda: first_poll_done(fake), 10)
        # Six polls in a row, each one poll interval (0.3 s) after the last: two loops would
        # interleave, and half the gaps would be short.
        seen = len(fake.mention_requests())
        assert wait_until(lambda: len(fake.mention_requests()) >= seen + 6, 15)
        times = [r["at"] for r in fake.mention_requests()[seen : seen + 6]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) > 0.3 * 0.6, f"polls {gaps} s apart: more than one polling loop"
        fake.mention("hello both")
        assert mentions_of(first, 1)[0]["text"] == mentions_of(second, 1)[0]["text"]
        assert len(brain.named("MentionsPoller")) == 1
    # The last subscriber left: the poller process ends, so polling has stopped.
    assert wait_until(lambda: not brain.named("MentionsPoller"), 10), brain.log
    count = len(fake.mention_requests())
    with brain.eye() as eye:  # the next eye gets a poller again, and its mentions
        eye.wait_ready()
        assert wait_until(lambda: len(fake.mention_requests()) > count, 10)
        fake.mention("welcome back")
        assert mentions_of(eye, 1)[0]["text"].endswith("welcome back")


def test_last_seen_id_survives_a_restart(fake, tmp_path):
    env = {"TEST_X_TOKEN": TOKEN}
    with running_brain(config(fake, tmp_path / "state"), tmp_path, env=env) as brain, brain.eye() as eye:
        eye.wait_ready()
        assert wait_until(lambda: first_poll_done(fake), 10)
        fake.mention("before the restart")
        mentions_of(eye, 1)
    (tmp_path / "again").mkdir()
    with running_brain(config(fake, tmp_path / "state"), tmp_path / "again", env=env) as brain, brain.eye() as eye:
        eye.wait_ready()
        requests = len(fake.mention_requests())
        assert wait_until(lambda: len(fake.mention_requests()) > requests + 1, 10)
        fake.mention("after the restart")
        (mention,) = mentions_of(eye, 1)
        assert mention["text"].endswith("after the restart")


def post_event(brain, body, token: str | None = "door-bell-secret") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{brain.events_port}/events", data, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_events_reach_every_eye_or_one(brain):
    with brain.eye() as first, brain.eye() as second:
        session = first.recv()["data"]["session"]
        first.wait_ready()
        second.wait_ready()
        assert post_event(brain, {"text": "Someone is at the door"}) == (202, {"delivered": 2})
        for eye in (first, second):
            event = eye.wait_for(lambda o: o["kind"] == "event")
            assert (event["cortex"], event["text"]) == ("events", "Someone is at the door")
        assert post_event(brain, {"text": "Only you", "to": session}) == (202, {"delivered": 1})
        assert first.wait_for(lambda o: o["kind"] == "event")["text"] == "Only you"
        assert second.ask("hello")["kind"] == "echo"  # and no event for the second eye
        assert not [o for o in second.seen if o["text"] == "Only you"]


BAD_EVENTS = [
    (None, {"text": "hi"}, 401, "Authorization: Bearer"),
    ("wrong", {"text": "hi"}, 401, "Authorization: Bearer"),
    ("door-bell-secret", b"{not json", 400, "must be JSON"),
    ("door-bell-secret", {"text": ""}, 400, "non-empty string"),
    ("door-bell-secret", {"text": "x" * 1001}, 400, "limit is 1000"),
    ("door-bell-secret", {"text": "hi", "to": "nobody"}, 404, "No eye has the session id"),
]


def test_bad_events_are_refused_and_a_good_one_still_lands(brain):
    for token, body, status, words in BAD_EVENTS:
        code, answer = post_event(brain, body, token)
        assert code == status and words in answer["error"], (body, code, answer)
    with brain.eye() as eye:
        eye.wait_ready()
        assert post_event(brain, {"text": "after all that"}) == (202, {"delivered": 1})
        assert eye.wait_for(lambda o: o["kind"] == "event")["text"] == "after all that"


def test_events_are_off_without_a_token(fake, tmp_path):
    with running_brain(config(fake, tmp_path / "state"), tmp_path, env={"TEST_X_TOKEN": TOKEN}) as brain:
        code, answer = post_event(brain, {"text": "hi"})
        assert code == 503 and "CORTICAL_EVENTS_TOKEN" in answer["error"]


# -- pure parts -------------------------------------------------------------------------


def test_parse_page_reads_the_documented_shape():
    body = {
        "data": [
            {"id": "1460323737035677698", "text": "hi", "author_id": "101", "created_at": "2021-11-15T19:08:05.000Z"}
        ],
        "includes": {"users": [{"id": "101", "username": "alice", "name": "Alice"}]},
        "meta": {"result_count": 1, "newest_id": "1460323737035677698", "next_token": "abc"},
    }
    mentions, newest, next_token = parse_page(body)
    assert (mentions[0].username, newest, next_token) == ("alice", "1460323737035677698", "abc")
    assert parse_page({"meta": {"result_count": 0}}) == ([], None, None)
    for bad in ([], {"data": [{"text": "no id"}]}, {"data": [{"id": "x1", "text": "t"}]}):
        with pytest.raises(ValueError):
            parse_page(bad)


def test_poll_delays_back_off_and_respect_the_reset():
    assert next_poll_in(0, 60, 0, 900) == 60
    assert [next_poll_in(0, 60, n, 900) for n in (1, 2, 3, 5)] == [120, 240, 480, 900]
    assert next_poll_in(100, 60, 0, 900, rate_remaining=0, rate_reset=400) == pytest.approx(300.5)
    assert next_poll_in(100, 60, 1, 900, retry_at=110) == pytest.approx(10.5)
