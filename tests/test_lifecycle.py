"""No thespian process outlives its eye or the brain, whatever way they leave."""

import secrets
import signal
import socket
import struct

import pytest

from actors.lifeline import GRACE_S, KILL_FOR_S
from harness.brains import Brain, Member, free_port, running_brain
from harness.configs import ECHO_TICKER, write_config
from harness.processes import actor_processes, process_title
from harness.waits import wait_until


@pytest.fixture
def fresh_brain(tmp_path):
    with running_brain(ECHO_TICKER, tmp_path) as running:
        yield running


def reset(eye) -> None:
    """Drop the connection with a TCP RST, as a crashed phone or a pulled cable would."""
    raw = eye.ws.socket
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def test_a_hundred_connect_disconnect_cycles_leave_no_process(fresh_brain):
    baseline = len(fresh_brain.processes())  # admin, logger, reflector
    for cycle in range(100):
        eye = fresh_brain.eye()
        way = cycle % 4
        if way == 0:  # polite close once ready
            eye.wait_ready()
            eye.close()
        elif way == 1:  # RST once ready
            eye.wait_ready()
            reset(eye)
        elif way == 2:  # RST while the session is still being created
            reset(eye)
        else:  # polite close at once
            eye.close()
    counts = []
    settled = wait_until(lambda: counts.append(len(fresh_brain.processes())) or counts[-1] == baseline, 30)
    assert settled, f"{counts[-1]} processes, expected the baseline {baseline}"
    # The brain still serves after all that.
    with fresh_brain.eye() as eye:
        eye.wait_ready()
        assert eye.ask("alive")["text"] == "alive"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_every_process(fresh_brain, signum):
    eyes = [fresh_brain.eye() for _ in range(3)]
    for eye in eyes:
        eye.wait_ready()
        assert eye.ask("hello")["text"].endswith("hello")  # (its echo started too)
    assert len(fresh_brain.processes()) >= 3 + 3 * 3  # admin, logger, reflector + 3 × (session, echo, ticker)
    assert fresh_brain.stop(signum) == 0
    assert fresh_brain.processes() == []
    assert actor_processes(fresh_brain.admin_port) == []
    assert "actor system shut down" in fresh_brain.log


def test_brain_refuses_an_admin_port_in_use(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", free_port()))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"already listens on the actor admin port 127.0.0.1:{port}"):
            Brain(write_config(tmp_path / "b.toml", ECHO_TICKER), tmp_path, ("--admin-port", str(port)))
    finally:
        holder.close()


def titles(processes) -> list[str]:
    return [process_title(process).split(" ")[0] for process in processes]


def test_a_killed_brain_leaves_no_actor_behind_and_starts_again(tmp_path):
    # thespian daemonises its admin: a SIGKILLed brain left its whole actor system
    # running (48 processes a minute later) and the next start exited 3 on the busy
    # admin port. Its lifeline notices and shuts the actor system down.
    brain = Brain(write_config(tmp_path / "brain.toml", ECHO_TICKER), tmp_path)
    try:
        with brain.eye() as eye:
            eye.wait_ready()
            assert "Lifeline" in titles(brain.processes())
            brain.proc.kill()  # (not reaped: a zombie, as under a parent that is busy)
            assert wait_until(lambda: not brain.processes(), 15), titles(brain.processes())
        assert "is gone without stopping its actor system" in brain.log
    finally:
        brain.stop()
        brain.kill_leftovers()
    with running_brain(ECHO_TICKER, tmp_path, admin_port=brain.admin_port) as again:
        with again.eye() as eye:
            eye.wait_ready()
            assert eye.ask("here again")["text"] == "here again"


DEAF = """
[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "deaf"
type = "harness.cortexes:Deaf"
subscribes = ["text"]
"""


def test_a_killed_brain_with_an_actor_deaf_to_the_shutdown_leaves_nothing_behind(tmp_path):
    # The lifeline's reaper SIGKILLs what a clean shutdown leaves after GRACE_S. It read the
    # status of each process it had listed, and one that had ended meanwhile (as some always
    # do while dozens shut down; here the deaf cortex's helpers) ended the reaper instead:
    # the deaf cortex, its Session and the admin stayed, on the admin port.
    brain = Brain(write_config(tmp_path / "brain.toml", DEAF), tmp_path)
    try:
        with brain.eye() as eye:
            eye.wait_ready()
            eye.send("stay")
            eye.wait_for(lambda o: o["kind"] == "deaf" and o["text"] == "staying", 15)
            assert "Deaf" in titles(brain.processes())
            brain.proc.kill()
            assert wait_until(lambda: not brain.processes(), GRACE_S + KILL_FOR_S), titles(brain.processes())
        assert "is gone without stopping its actor system" in brain.log
    finally:
        brain.stop()
        brain.kill_leftovers()
    with running_brain(ECHO_TICKER, tmp_path, admin_port=brain.admin_port) as again:
        with again.eye() as eye:
            eye.wait_ready()
            assert eye.ask("here again")["text"] == "here again"


def test_a_killed_brain_join_leaves_no_actor_behind_and_joins_again(tmp_path):
    secret = {"CORTICAL_ACTOR_SECRET": secrets.token_hex(32)}
    config = ECHO_TICKER + '\n[actors]\nallowed_peers = ["127.0.0.2"]\n'
    with running_brain(config, tmp_path, env=secret) as leader:
        member = Member(leader, "127.0.0.2", "gpu", tmp_path, secret)
        try:
            assert "Lifeline" in titles(member.processes())
            member.proc.kill()
            assert wait_until(lambda: not member.processes(), 15), titles(member.processes())
        finally:
            member.stop()
        again = Member(leader, "127.0.0.2", "gpu", tmp_path, secret, admin_port=member.admin_port)
        again.stop()
        with leader.eye() as eye:
            eye.wait_ready()
            assert eye.ask("still leading")["text"] == "still leading"
