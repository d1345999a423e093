"""The actor system, which unpickles whatever reaches it, is reachable from loopback only."""

import re
import socket

import psutil
import pytest

from harness.processes import actor_processes, process_title
from harness.waits import wait_until


def non_loopback_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return None


def test_admin_port_refuses_connections_on_a_non_loopback_address(brain):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    # Control: a socket listening on every interface IS reachable at that address,
    # so a refusal below is the brain's doing, not a firewall's.
    with socket.socket() as control:
        control.bind(("0.0.0.0", 0))
        control.listen()
        socket.create_connection((address, control.getsockname()[1]), timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, brain.admin_port), timeout=2)
    # ...while the admin does answer on loopback.
    socket.create_connection(("127.0.0.1", brain.admin_port), timeout=2).close()


def test_every_actor_socket_listens_on_loopback_only(brain):
    with brain.eye() as eye:
        eye.wait_ready()  # a session and its cortexes exist too
        pids = {p.pid for p in actor_processes(brain.admin_port)}
        assert len(pids) >= 6
        listening = [c for c in psutil.net_connections("tcp") if c.pid in pids and c.status == psutil.CONN_LISTEN]
        assert len(listening) >= len(pids)
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}


def actor_port(proc: psutil.Process) -> int:
    """The port in its title, "Class ActorAddr-(T|:port)" (it also holds sockets it inherited)."""
    return int(re.search(r":(\d+)\)", process_title(proc)).group(1))


def brain_answers(brain) -> None:
    """A new eye gets a Session (the admin creates its actors) and an answer from it."""
    with brain.eye() as eye:
        eye.wait_ready()
        assert eye.ask("still here?")["text"] == "still here?"
    assert brain.proc.poll() is None


@pytest.mark.parametrize("actor", ["admin", "SessionSupervisor"])
def test_a_stranger_connecting_is_refused_and_the_brain_lives_on(brain, actor):
    # One connect() from an address that is not allowed, no byte sent: thespian 4.0.1
    # used to hand its accept error to the actor as a message, and the brain died.
    port = brain.admin_port if actor == "admin" else actor_port(brain.named(actor)[0])
    refusals = sum("refused an actor-network connection from 127.0.0.2" in line for line in brain.log_lines)
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)) as stranger:
        try:
            assert stranger.recv(1) == b""  # closed before anything is read
        except ConnectionResetError:
            pass
    assert wait_until(
        lambda: (
            sum("refused an actor-network connection from 127.0.0.2" in line for line in brain.log_lines) > refusals
        ),
        5,
    ), brain.log
    brain_answers(brain)
    # The watchdog ends the brain 2 s after a core actor is gone: answer after that too.
    assert not wait_until(lambda: brain.proc.poll() is not None, 3)
    brain_answers(brain)


def test_an_announced_huge_actor_message_is_refused_before_it_is_buffered(brain):
    # An allowed local process (no secret needed to announce a size) streams 64 MB of
    # an announced 2 GB message: the admin must close the socket instead of buffering it.
    (admin,) = brain.named("MultiProcAdmin")
    before = admin.memory_info().rss
    chunk = b"\0" * (1 << 20)
    sent = 0
    with socket.create_connection(("127.0.0.1", brain.admin_port), timeout=5) as peer:
        try:
            peer.sendall(b"2000000000>")
            while sent < 64 << 20:
                peer.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert sent < 32 << 20, f"{sent >> 20} MB were taken in"
    assert wait_until(lambda: "refused an actor-network message announced as 2000000000 bytes" in brain.log, 5)
    assert admin.memory_info().rss - before < 16 << 20
    brain_answers(brain)


@pytest.mark.parametrize("actor", ["admin", "Echo"])
def test_bytes_without_a_size_are_cut_after_a_few_and_the_brain_lives_on(brain, actor):
    # A frame begins "<size>>"; thespian read a stream without ">" 20 bytes at a time,
    # forever (3 MB kept a cortex at 100% CPU for minutes). Now the connection is closed
    # at the first bytes that cannot be a size.
    with brain.eye() as eye:
        eye.wait_ready()
        assert eye.ask("start the echo cortex")["kind"] == "echo"
        port = brain.admin_port if actor == "admin" else actor_port(brain.named(actor)[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stranger:
            stranger.sendall(b"1234567890" * 3)  # digits, but no ">" within 20 bytes
            assert closed(stranger)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stranger:
            sent = 0
            try:
                while sent < 3 << 20:
                    sent += stranger.send(b"GET / HTTP/1.1\r\n" * 4096)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert sent < 3 << 20 or closed(stranger)
        assert wait_until(lambda: "only actors of this brain speak here" in brain.log, 5)
        assert eye.ask("still echoing?")["text"] == "still echoing?"
    brain_answers(brain)


def closed(peer: socket.socket) -> bool:
    """The other end closed (reading what it may have left), within the socket's timeout."""
    try:
        while peer.recv(1 << 16):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def test_unauthenticated_connections_hold_a_bounded_total(brain):
    # Each announces 15 MB (under the 16 MB cap) and sends 14 MB, then waits: ten such
    # kept the admin at 180 MB. Those that have sent no signed message hold at most
    # [actors] max_unauthenticated_bytes (32 MB) in all; the largest are dropped.
    (admin,) = brain.named("MultiProcAdmin")
    before, peak = admin.memory_info().rss, 0
    strangers = []
    try:
        for _ in range(10):
            stranger = socket.create_connection(("127.0.0.1", brain.admin_port), timeout=10)
            strangers.append(stranger)
            stranger.sendall(b"%d>" % (15 << 20) + b"\0" * (14 << 20))
            peak = max(peak, admin.memory_info().rss)
        wait_until(lambda: "max_unauthenticated_bytes" in brain.log, 5)
        peak = max(peak, admin.memory_info().rss)
    finally:
        for stranger in strangers:
            stranger.close()
    assert peak - before < (32 + 24) << 20, f"the admin grew by {(peak - before) >> 20} MB"
    assert "dropped the 14680064 bytes an unauthenticated actor-network connection held" in brain.log
    brain_answers(brain)
