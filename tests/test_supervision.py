"""Kill -9 each kind of actor during traffic: the eye hears what happened, then things work
again, and nothing is left behind."""

import os
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed

from harness.brains import brain_state, running_brain
from harness.configs import at_connect
from harness.waits import wait_until

# (Every cortex starts with its eye: the tests kill them as soon as it is ready.)
CONFIG = at_connect("""
[supervision]
max_restarts = 3
window_s = 60.0
backoff_s = 0.2
max_errors = 3
errors_window_s = 10.0

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "flaky"
type = "harness.cortexes:Flaky"
subscribes = ["text"]
""")


@pytest.fixture
def brain(tmp_path):
    with running_brain(CONFIG, tmp_path) as running:
        yield running


def echo(eye, text, timeout=10):
    eye.send(text)
    return eye.wait_for(lambda o: o["kind"] == "echo" and o["text"] == text, timeout)


def test_a_killed_cortex_is_restarted_and_the_others_never_notice(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        (flaky,) = brain.named("Flaky")
        os.kill(flaky.pid, signal.SIGKILL)
        echo(eye, "echo keeps answering")  # the other cortex never notices
        error = eye.seen_or_wait(lambda o: o["kind"] == "error", 10)
        assert error["text"].startswith("The flaky cortex crashed; restarting it in 0.2 s (restart 1 of at most 3")
        back = eye.seen_or_wait(lambda o: o["kind"] == "status" and o["data"].get("restarted") == "flaky", 10)
        assert back["text"] == "The flaky cortex is back."
        eye.send("hello")
        assert eye.wait_for(lambda o: o["kind"] == "flaky")["text"] == "hello (#1 since start)"
        assert len(brain.named("Flaky")) == 1
        assert wait_until(lambda: "the flaky cortex ended unexpectedly; restarting it in 0.2 s" in brain.log, 5)


def test_a_cortex_that_keeps_raising_is_restarted_fresh(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        eye.send("one")
        eye.wait_for(lambda o: o["kind"] == "flaky")
        for _ in range(3):
            eye.send("boom")
        assert "flaky could not handle that text: boom" in eye.wait_for(lambda o: o["kind"] == "error")["text"]
        eye.seen_or_wait(lambda o: o["data"].get("restarted") == "flaky", 10)
        eye.send("two")
        assert eye.wait_for(lambda o: o["kind"] == "flaky")["text"] == "two (#1 since start)"


def test_a_cortex_that_keeps_crashing_stays_off(brain):
    with brain.eye() as eye:
        eye.wait_ready()
        for n in range(4):
            assert wait_until(lambda: len(brain.named("Flaky")) == 1, 10)
            os.kill(brain.named("Flaky")[0].pid, signal.SIGKILL)
            if n < 3:
                eye.wait_for(lambda o: o["data"].get("restarted") == "flaky", 10)
                assert wait_until(lambda: len(brain.named("Flaky")) == 1, 10)
        final = eye.wait_for(lambda o: o["kind"] == "error" and "keeps crashing" in o["text"], 10)
        assert "it stays off in this session" in final["text"]
        assert echo(eye, "still here")["text"] == "still here"


def test_a_killed_session_is_restarted_without_orphans(brain):
    baseline = len(brain.processes())
    with brain.eye() as eye:
        eye.wait_ready()
        echo(eye, "before")
        (session,) = brain.named("Session")
        cortexes = {p.pid for p in brain.named("Echo") + brain.named("Flaky")}
        os.kill(session.pid, signal.SIGKILL)
        error = eye.wait_for(lambda o: o["kind"] == "error", 10)
        assert error["text"] == "Your session stopped unexpectedly; it is being restarted."
        eye.wait_ready()
        assert echo(eye, "after")["text"] == "after"
        assert wait_until(lambda: not cortexes & {p.pid for p in brain.processes()}, 10), "orphaned cortexes"
        assert len(brain.processes()) == baseline + 3
    assert wait_until(lambda: len(brain.processes()) == baseline, 15)


@pytest.mark.parametrize("core, name", [("MultiProcAdmin", "admin"), ("SessionSupervisor", "session supervisor")])
def test_the_brain_exits_when_the_actor_system_dies(brain, core, name):
    with brain.eye() as eye:
        eye.wait_ready()
        (victim,) = brain.named(core)
        os.kill(victim.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            eye.wait_for(lambda o: False, 20)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1011,
            "The brain's actor system died and the brain stopped; see its log.",
        )
        brain.proc.wait(20)
        assert brain.proc.returncode == 4
        assert time.monotonic() - started < 10
        assert f"The actor system died: its {name} (pid {victim.pid}" in brain.log
        assert wait_until(lambda: brain.processes() == [], 5)


def test_a_killed_logger_is_restarted_and_the_brain_lives_on(brain):
    (logger,) = brain.named("logger")
    os.kill(logger.pid, signal.SIGKILL)
    assert wait_until(
        lambda: f"thespian's logger process (pid {logger.pid}) died; the admin started a new one" in brain.log, 5
    ), brain.log
    assert not wait_until(lambda: brain.proc.poll() is not None, 3)  # (the watchdog's 2 s)
    with brain.eye() as eye:
        eye.wait_ready()
        assert echo(eye, "still here")["text"] == "still here"
        # The actors' log lines reach the brain's log through the new logger.
        (flaky,) = brain.named("Flaky")
        os.kill(flaky.pid, signal.SIGKILL)
        assert wait_until(lambda: "the flaky cortex ended unexpectedly" in brain.log, 10), brain.log


def cortex_state(brain, name: str) -> dict | None:
    sessions = brain_state(brain)["sessions"]
    return next((c for s in sessions for c in s["cortexes"] if c["name"] == name), None)


def test_the_live_view_shows_a_killed_cortex_restarting_then_running_and_brain_top_says_so(brain):
    import pty
    import subprocess
    import sys

    from harness import ROOT

    with brain.eye() as eye:
        eye.wait_ready()
        echo(eye, "hello")
        assert cortex_state(brain, "flaky")["state"] == "running"
        (flaky,) = brain.named("Flaky")
        os.kill(flaky.pid, signal.SIGKILL)
        # (its 0.2 s backoff is the window: look often)
        assert wait_until(lambda: cortex_state(brain, "flaky")["state"] == "restarting", 10, interval=0.01)
        assert wait_until(lambda: cortex_state(brain, "flaky")["state"] == "running", 10)
        state = cortex_state(brain, "flaky")
        assert state["restarts"] == 1 and state["last_error"].startswith("The flaky cortex crashed")
        assert echo(eye, "still here")["text"] == "still here"  # the brain answers after the kill
        assert cortex_state(brain, "echo")["outputs_per_s"] > 0
        # The same, in a terminal (a pseudo-terminal, as a person's).
        leader, follower = pty.openpty()
        done = subprocess.run(
            [sys.executable, "-m", "brain.cli", "top", "--url", brain.url, "--once"],
            cwd=ROOT,
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=30,
        )
        os.close(follower)
        screen = os.read(leader, 65536).decode()
        os.close(leader)
        assert done.returncode == 0, done.stderr
        assert "flaky" in screen and "running" in screen and "EYE " in screen
    assert wait_until(lambda: brain_state(brain)["sessions"] == [], 10)  # the eye left


def test_the_brain_page_draws_every_session_and_shows_a_restart(brain):
    import asyncio

    from harness.pages import ARTIFACTS, FLAGS, open_page

    ARTIFACTS.mkdir(exist_ok=True)
    with brain.eye() as first, brain.eye() as second:
        first.wait_ready()
        second.wait_ready()
        echo(first, "hello")

        async def check(page):
            await page.wait_for_function(
                "document.querySelectorAll('#tree .node.running').length >= 4", timeout=20_000
            )  # (no model holder here): 2 sessions × (echo, flaky), running
            text = await page.evaluate("document.querySelector('#tree').textContent")
            victim = brain.named("Flaky")[0]
            os.kill(victim.pid, signal.SIGKILL)
            await page.wait_for_function(
                "document.querySelector('#tree').textContent.includes('1 restart')", timeout=20_000
            )
            await page.wait_for_function("!document.querySelector('#tree .node.restarting')", timeout=20_000)
            await page.screenshot(path=str(ARTIFACTS / "brain-page.png"), full_page=True)
            return text, await page.inner_text("#warnings"), await page.inner_text("#status")

        text, warnings, status = asyncio.run(open_page(brain.url + "/brain", FLAGS, False, check))
        assert echo(first, "still here")["text"] == "still here"  # the brain answers after the kill
    assert text.count("eye eye-") == 2 and text.count("flaky · running") == 2 and text.count("echo · running") == 2
    assert "The flaky cortex crashed" in warnings
    assert status.startswith("Live: 2 eyes")
