"""Limits, backpressure and who may connect: max eyes, rates, idleness, slow eyes,
Origin allow-list, the eye token, TLS."""

import json
import socket
import ssl
import time
import urllib.request

import psutil
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from harness.brains import metric, running_brain
from harness.certs import self_signed
from harness.eyes import Eye, handshake_status
from harness.pictures import JPEG
from harness.waits import wait_until

ECHO = '[[cortex]]\nname = "echo"\ntype = "echo"\nsubscribes = ["text", "image"]\n'


def with_server(**settings) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    return f"[server]\n{lines}\n\n{ECHO}"


def closed_with(eye) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            eye.recv(10)
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_the_eye_past_max_eyes_is_refused_with_a_reason(tmp_path):
    with running_brain(with_server(max_eyes=2), tmp_path) as brain, brain.eye() as a, brain.eye() as b:
        a.wait_ready()
        b.wait_ready()
        with brain.eye() as third:
            assert closed_with(third) == (1013, "The brain already serves 2 eyes; try again later.")
        assert a.ask("still fine")["text"] == "still fine"


def test_a_flood_of_frames_is_capped_and_said_once(tmp_path):
    with running_brain(with_server(max_frames_per_s=5.0), tmp_path) as brain, brain.eye() as eye:
        eye.wait_ready()
        started = time.monotonic()
        for _ in range(60):
            eye.send(JPEG)
        sending_s = time.monotonic() - started
        eye.send("after the flood")
        seen = []
        while not seen or seen[-1]["kind"] != "echo":
            seen.append(eye.wait_for(lambda o: o["kind"] in ("image", "error", "echo")))
        errors = [o for o in seen if o["kind"] == "error"]
        assert len(errors) == 1 and "more than 5 snapshots a second" in errors[0]["text"]
        # the burst of 2 × 5, plus what the bucket refilled while the 60 were being sent
        assert 10 <= sum(o["kind"] == "image" for o in seen) <= 11 + 5 * sending_s
        metrics = urllib.request.urlopen(brain.url + "/metrics").read().decode()
        assert 'cortical_dropped_total{reason="rate_limit"}' in metrics


def test_a_flood_of_tiny_messages_is_capped(tmp_path):
    with running_brain(with_server(max_messages_per_s=20.0), tmp_path) as brain, brain.eye() as eye:
        eye.wait_ready()
        for n in range(300):
            eye.send(f"m{n}")
        eye.wait_for(lambda o: o["kind"] == "error" and "more than 20 messages a second" in o["text"])

        def after_echoed() -> bool:
            # Dropped while the bucket is empty (it refills 20 a second), so asked again: its
            # echo comes after those of every message let through before it.
            eye.send("after")
            try:
                return bool(eye.wait_for(lambda o: o["kind"] == "echo" and o["text"] == "after", 0.5))
            except TimeoutError:
                return False

        assert wait_until(after_echoed, 15)
        assert len([o for o in eye.seen if o["kind"] == "echo" and o["text"].startswith("m")]) < 60


def test_an_idle_eye_is_disconnected(tmp_path):
    with running_brain(with_server(idle_timeout_s=1.0), tmp_path) as brain, brain.eye() as eye:
        eye.wait_ready()
        assert closed_with(eye) == (1000, "Idle for 1 s; reconnect to go on.")


def test_a_slow_eye_cannot_grow_the_queue(tmp_path):
    config = with_server(outbound_queue=16, max_message_bytes=65536, max_messages_per_s=1000.0)
    with running_brain(config, tmp_path) as brain, brain.eye(max_size=None) as eye:
        eye.wait_ready()
        big = "x" * 60_000
        for n in range(400):  # 24 MB of echoes that the eye does not read: more than socket buffers hold
            eye.send(f"{n:03d}{big}")
        eye.send("last")
        # Every echo, the last one's too, has been put in the eye's queue (and counted): what
        # did not fit has been dropped by now.
        assert wait_until(lambda: metric(brain, 'cortical_outputs_total{cortex="echo",kind="echo"}') == 401, 60)
        assert metric(brain, 'cortical_dropped_total{reason="slow_eye"}') > 0
        received = []
        while not received or received[-1] != "last":
            received.append(eye.wait_for(lambda o: o["kind"] == "echo")["text"][:4])
        assert len(received) < 400  # the oldest were dropped, and the newest still came


@pytest.mark.parametrize(
    "origin, allowed", [(None, True), ("same", True), ("http://evil.example", False), ("http://127.0.0.1:1", False)]
)
def test_origin_allow_list(brain, origin, allowed):
    headers = {} if origin is None else {"Origin": f"http://127.0.0.1:{brain.port}" if origin == "same" else origin}
    if allowed:
        with connect(brain.ws_url, additional_headers=headers) as ws:
            assert json.loads(ws.recv(10))["kind"] == "status"
    else:
        with pytest.raises(InvalidStatus) as refused:
            connect(brain.ws_url, additional_headers=headers)
        assert refused.value.response.status_code == 403


def test_listed_origins_are_let_in(tmp_path):
    with running_brain(with_server(allowed_origins=["https://eye.example"]), tmp_path) as brain:
        with connect(brain.ws_url, additional_headers={"Origin": "https://eye.example"}) as ws:
            assert json.loads(ws.recv(10))["kind"] == "status"
        with pytest.raises(InvalidStatus):
            connect(brain.ws_url, additional_headers={"Origin": f"http://127.0.0.1:{brain.port}"})


def test_the_eye_token(tmp_path):
    with running_brain(ECHO, tmp_path, env={"CORTICAL_EYE_TOKEN": "letmein"}) as brain:
        with connect(brain.ws_url) as ws:
            ws.send("hello")  # a first message that is not the token
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(10)
            assert closed.value.rcvd.code == 1008 and "wrong token" in closed.value.rcvd.reason
        with connect(brain.ws_url + "?token=nope") as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(10)
        with connect(brain.ws_url + "?token=letmein") as ws:
            assert json.loads(ws.recv(10))["kind"] == "status"
        with connect(brain.ws_url) as ws:
            ws.send(json.dumps({"token": "letmein"}))
            assert json.loads(ws.recv(10))["kind"] == "status"


def test_tls_serves_wss_and_https(tmp_path):
    cert, key = self_signed(tmp_path)
    with running_brain(with_server(cert=str(cert), key=str(key)), tmp_path) as brain:
        trust = ssl.create_default_context(cafile=str(cert))
        with connect(f"wss://127.0.0.1:{brain.port}/ws", ssl=trust) as ws:
            ws.recv(10)
            ws.send("over TLS")
            while (output := json.loads(ws.recv(10)))["kind"] != "echo":
                pass
            assert output["text"] == "over TLS"
        page = urllib.request.urlopen(f"https://127.0.0.1:{brain.port}/", context=trust).read()
        assert b"<title>Cortical" in page
        with pytest.raises((WebSocketException, OSError, TimeoutError)):
            with connect(brain.ws_url, open_timeout=3) as ws:  # plain ws:// to a TLS port
                ws.recv(3)


def test_health_and_metrics(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        eye.ask("count me")
        health = json.load(urllib.request.urlopen(brain.url + "/health"))
        assert health["status"] == "ok" and health["eyes"] >= 1
        metrics = urllib.request.urlopen(brain.url + "/metrics").read().decode()
        assert "cortical_eyes " in metrics
        assert 'cortical_messages_in_total{kind="text"}' in metrics
        assert 'cortical_outputs_total{cortex="echo",kind="echo"}' in metrics


def test_an_eye_that_never_reads_is_disconnected_and_its_memory_given_back(tmp_path):
    # It sends 1.9 MB texts that echo returns and reads none of them: the brain must not
    # hold them for it (it once held half a gigabyte, and kept it after the eye left).
    config = with_server(max_message_bytes=2_000_000, max_messages_per_s=1000.0, send_timeout_s=2.0)
    with running_brain(config, tmp_path) as brain:
        gateway = psutil.Process(brain.proc.pid)
        before = gateway.memory_full_info().pss
        held = []
        big = "x" * 1_900_000
        started = time.monotonic()
        with connect(brain.ws_url, max_size=None, ping_interval=None) as eye:
            eye.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            deadline, closed = started + 60, None
            try:
                while time.monotonic() < deadline and max(held, default=0) < 400 << 20:
                    for _ in range(10):
                        eye.send(big)
                    held.append(gateway.memory_full_info().pss - before)
            except (ConnectionClosed, OSError) as exc:
                closed = f"{exc!r} after {time.monotonic() - started:.1f} s"
        assert max(held, default=0) < 200 << 20, f"the gateway held {max(held) >> 20} MB for the eye"
        assert closed, "the eye was never disconnected"
        # (It takes ~2 s. A Session that read its inputs "until empty" once let the eye be
        # closed only by the keepalive, after 50 s: say how it was closed.)
        assert wait_until(lambda: "took no output for 2 s" in brain.log, 10), (
            f"closed by {closed}:\n{brain.log}\n{brain.thespian_log()}"
        )
        assert wait_until(lambda: gateway.memory_full_info().pss - before < 40 << 20, 10), (
            f"the gateway holds {(gateway.memory_full_info().pss - before) >> 20} MB more after the eye left"
        )
        with brain.eye() as other:  # and the brain serves on
            other.wait_ready()
            assert other.ask("hello")["text"] == "hello"


def test_a_page_under_a_rebound_name_cannot_drive_the_brain(brain):
    # DNS rebinding: evil.example now resolves to 127.0.0.1, and its page opens /ws with
    # Host and Origin both evil.example — the Origin check alone would let it in.
    assert handshake_status(brain, f"evil.example:{brain.port}") == 403
    assert handshake_status(brain, f"evil.example:{brain.port}", "/") == 403
    assert handshake_status(brain, f"127.0.0.1:{brain.port}") == 101
    assert handshake_status(brain, f"localhost:{brain.port}") == 101
    with brain.eye() as eye:  # and the brain serves on
        eye.wait_ready()


def test_a_name_in_allowed_hosts_may_open_the_brain(tmp_path):
    with running_brain(with_server(allowed_hosts=["brain.home.arpa"]), tmp_path) as brain:
        assert handshake_status(brain, f"brain.home.arpa:{brain.port}") == 101
        assert handshake_status(brain, f"evil.example:{brain.port}") == 403


def test_a_ping_flood_is_closed_and_the_brain_serves_on(brain):
    with brain.eye() as flooder, brain.eye() as other:
        other.wait_ready()
        with pytest.raises(ConnectionClosed) as closed:
            for n in range(10_000):
                flooder.ws.ping(str(n))
            flooder.wait_for(lambda o: False, 10)
        assert closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason == "More than 5 pings a second (server.max_pings_per_s)."
        assert other.ask("unaffected")["text"] == "unaffected"
        assert other.ws.ping().wait(5)  # a ping now and then is answered


def test_a_connect_storm_is_cut_at_max_eyes_and_the_admitted_go_on(tmp_path):
    """A hundred eyes at once against max_eyes = 50: fifty are served, fifty refused with the
    sentence, never more admitted (each is counted again as it joins, after its token), and
    the fifty all answer afterwards."""
    import asyncio

    from websockets.asyncio.client import connect as connect_async

    async def storm(url: str) -> tuple[list, list]:
        eyes = await asyncio.gather(*(connect_async(url, open_timeout=60) for _ in range(100)))
        await asyncio.gather(*(ws.send(json.dumps({"token": "letmein"})) for ws in eyes), return_exceptions=True)

        async def fate(ws):
            try:
                while json.loads(await ws.recv())["data"].get("ready") is not True:
                    pass
                return ws
            except ConnectionClosed:
                return (ws.close_code, ws.close_reason)

        fates = await asyncio.wait_for(asyncio.gather(*(fate(ws) for ws in eyes)), 120)
        admitted = [f for f in fates if not isinstance(f, tuple)]
        refused = [f for f in fates if isinstance(f, tuple)]
        for n, ws in enumerate(admitted):
            await ws.send(f"eye {n}")
        answers = []
        for n, ws in enumerate(admitted):  # (each its own echo, though fifty echo cortexes start at once)
            while (output := json.loads(await asyncio.wait_for(ws.recv(), 60)))["kind"] != "echo":
                pass
            answers.append(output["text"].endswith(f"eye {n}"))
        for ws in eyes:
            await ws.close()
        return answers, refused

    with running_brain(with_server(max_eyes=50), tmp_path, env={"CORTICAL_EYE_TOKEN": "letmein"}) as brain:
        answers, refused = asyncio.run(storm(brain.ws_url))
        assert len(answers) == 50 and all(answers)
        assert refused == [(1013, "The brain already serves 50 eyes; try again later.")] * 50
        with Eye(brain.ws_url + "?token=letmein") as eye:  # (the fifty have left: their seats are free)
            assert eye.ask("after the storm")["text"].endswith("after the storm")


def test_sockets_that_never_send_a_token_keep_no_eye_out(tmp_path):
    """Seats go to eyes that are let in, not to sockets still owing their token: two silent
    ones against max_eyes = 2 do not refuse the eye that sends it, and are let in later."""
    env = {"CORTICAL_EYE_TOKEN": "letmein"}
    with running_brain(with_server(max_eyes=2), tmp_path, env=env) as brain:
        with connect(brain.ws_url) as silent, connect(brain.ws_url):
            with Eye(brain.ws_url + "?token=letmein") as eye:
                assert eye.ask("let in")["text"].endswith("let in")
            silent.send(json.dumps({"token": "letmein"}))
            while json.loads(silent.recv(30))["data"].get("ready") is not True:
                pass
