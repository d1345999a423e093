"""The holder link on real Unix sockets: requests and answers pass, whole, both ways; a
process of another user is turned away (what the holder reads is unpickled)."""

import os
import select
import socket

import pytest

from actors.dataplane import holder_link
from actors.dataplane.datagrams import read_datagrams, send_datagram
from actors.models.messages import Infer, Inferred
from harness.waits import wait_until


def test_a_cortex_of_this_user_is_accepted_and_both_ways_carry_whole_messages():
    listener, name = holder_link.listen()
    cortex = holder_link.connect(name, os.getpid())
    (holder,) = _accept_all(listener)
    assert send_datagram(cortex, Infer(1, "objects", 0.3, b"pixels"))
    assert wait_until(lambda: _readable(holder), 2)
    (request,), ended = read_datagrams(holder)
    assert request == Infer(1, "objects", 0.3, b"pixels") and not ended
    assert send_datagram(holder, Inferred(1, ["cup"], 1, 12.0))
    assert wait_until(lambda: _readable(cortex), 2)
    assert read_datagrams(cortex) == ([Inferred(1, ["cup"], 1, 12.0)], False)
    cortex.close()  # (the cortex ended)
    assert read_datagrams(holder) == ([], True)
    assert holder_link.connect("\0cortical-holder-that-is-gone", os.getpid()) is None
    for sock in (holder, listener):
        sock.close()


def test_a_cortex_talks_only_to_the_holder_it_was_told_of():
    """A dead holder's name taken by another process (or another user's) is not talked to."""
    listener, name = holder_link.listen()
    assert holder_link.connect(name, os.getpid() + 1) is None  # not the holder's process
    assert holder_link.connect(name, os.getpid()) is not None
    listener.close()


def test_the_holder_turns_away_a_process_of_another_user(monkeypatch):
    listener, name = holder_link.listen()
    stranger = holder_link.connect(name, os.getpid())
    monkeypatch.setattr(holder_link.os, "getuid", lambda: 4321)  # (as if we were someone else)
    assert wait_until(lambda: select.select([listener], [], [], 0)[0], 2)
    assert holder_link.accept(listener) == []
    assert wait_until(lambda: _readable(stranger), 2)
    assert read_datagrams(stranger) == ([], True)  # closed at once
    listener.close()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_a_real_process_of_another_user_is_turned_away():
    listener, name = holder_link.listen()
    child = os.fork()
    if child == 0:  # another user: it connects, then waits to be read (or closed)
        try:
            os.setuid(65534)
            stranger = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            stranger.settimeout(3)
            stranger.connect(name)
            os._exit(0 if stranger.recv(10) == b"" else 1)  # closed by the holder
        except BaseException:
            os._exit(2)
    accepted = []  # (kept open: a stranger let in would wait for its answer)

    def stranger_gone() -> bool:
        accepted.extend(holder_link.accept(listener))
        return _exited(child) is not None

    assert wait_until(stranger_gone, 10)
    assert accepted == [] and _exited(child) == 0  # turned away: its connection closed at once
    listener.close()


def _accept_all(listener) -> list:
    accepted = []

    def more() -> bool:
        accepted.extend(holder_link.accept(listener))
        return bool(accepted)

    wait_until(more, 2)
    return accepted


def _readable(sock) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


_status: dict[int, int] = {}


def _exited(pid: int) -> int | None:
    if pid not in _status:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _status[pid] = os.waitstatus_to_exitcode(status)
    return _status.get(pid)
