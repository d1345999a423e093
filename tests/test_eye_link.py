"""The eye link's framing (pure), its sender on a real Unix socket, and the routes down
which the gateway writes an eye's stimuli (real socket pairs)."""

import os
import select
import socket
import tempfile
import threading

import pytest

from actors.dataplane.eye_link import (
    INPUTS_READ_BYTES,
    MAX_FRAME_BYTES,
    EyeLink,
    Frames,
    frame,
    read_inputs,
    send_output,
)
from actors.dataplane.routes import EyeRoutes
from actors.messages import EyeOutput, Output, Route, RoutesGiven, Stimulus
from brain.routes import RouteTable


def test_frames_cut_anywhere_come_out_whole_and_in_order():
    messages = [Stimulus("text", text="hello"), Stimulus("image", image=b"\xff\xd8" * 5000), "s1", {"a": [1, 2]}]
    stream = b"".join(frame(m) for m in messages)
    for cut in (1, 3, 4, 5, 97, 4096, len(stream)):
        frames = Frames(1 << 20)
        got = []
        for start in range(0, len(stream), cut):
            got += frames.feed(stream[start : start + cut])
        assert got == messages and not frames.buffer


def test_a_frame_over_the_limit_is_refused_before_it_is_read():
    frames = Frames(100)
    with pytest.raises(ValueError, match="over the 100-byte limit"):
        frames.feed(frame(b"x" * 200)[:8])  # (its header is enough)


def test_a_session_reads_a_bite_at_a_time_of_a_gateway_that_never_stops_writing():
    # The gateway refills a Session's inputs socket as fast as it is read. Reading it
    # until it was empty once went on for 50 s, passing nothing on: one read must return.
    gateway, session = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    session.setblocking(False)
    stop = threading.Event()

    def write_forever() -> None:
        n = 0
        while not stop.is_set():
            gateway.sendall(frame(Stimulus("text", text=f"{n} " + "x" * 300_000)))
            n += 1
        gateway.close()

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    frames, got, reads, ended = Frames(MAX_FRAME_BYTES), [], 0, False
    while not ended:
        select.select([session], [], [])
        before = len(frames.buffer) + sum(len(s.text) for s in got)
        received, ended = read_inputs(session, frames)
        got += received
        reads += 1
        assert len(frames.buffer) + sum(len(s.text) for s in got) - before <= INPUTS_READ_BYTES
        if reads == 40:
            stop.set()  # (the writer ends once its send in progress is read)
    writer.join(10)
    assert not writer.is_alive()
    assert [int(s.text.split()[0]) for s in got] == list(range(len(got))) and len(got) >= 10
    assert not frames.buffer


def test_outputs_reach_the_socket_and_the_sender_reconnects_when_it_is_back():
    with tempfile.TemporaryDirectory() as directory:
        link = EyeLink(os.path.join(directory, "outputs.sock"))
        output = EyeOutput("s1", Output("echo", "echo", "hello"))
        assert send_output(link, output) is False  # nobody listens: told, not raised
        for _ in range(2):  # (the second time, over a new connection)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(link.path)
            server.listen()
            try:
                assert send_output(link, output) is True
                peer, _ = server.accept()
                frames = Frames(1 << 20)
                got = []
                while not got:
                    got = frames.feed(peer.recv(65536))
                assert got == [output]
                peer.close()
            finally:
                server.close()
                os.unlink(link.path)
            # The gateway went away: the next send fails once, then reconnects.
            assert send_output(link, output) is False


def test_a_cortex_pipe_carries_whole_messages_in_order_and_says_when_closed():
    from actors.dataplane.datagrams import read_datagrams
    from actors.dataplane.eye_link import stimuli_pair

    ours, theirs = stimuli_pair()
    theirs.setblocking(False)
    routes = EyeRoutes(kept=2)
    routes.add(Route("s1", "echo", ("text",)), ours)
    for n in range(50):
        routes.send(Stimulus("text", text=f"n{n}"))
    got, ended = read_datagrams(theirs)
    assert [m.text for m in got] == [f"n{n}" for n in range(50)] and not ended
    routes.close()
    got, ended = read_datagrams(theirs)
    assert got == [] and ended


def test_routes_send_each_kind_to_its_takers_and_the_rest_to_the_session():
    from actors.dataplane.datagrams import read_datagrams
    from actors.dataplane.eye_link import stimuli_pair
    from actors.dataplane.shared_pixels import read_bytes

    routes, ends = EyeRoutes(kept=2), {}
    for name, kinds in (("echo", ("text",)), ("objects", ("image",)), ("faces", ("image", "command"))):
        ours, ends[name] = stimuli_pair()
        ends[name].setblocking(False)
        routes.add(Route("s1", name, kinds), ours)

    _, sent = routes.send(Stimulus("pose"))  # nobody takes it: the Session says so
    assert not sent.routed

    snapshot = b"\xff\xd8" + bytes(range(256)) * 100
    as_sent, sent = routes.send(Stimulus("image", image=snapshot, content_type="image/jpeg"))
    assert sent.piped == ["objects", "faces"] and as_sent.image == b""  # one memory file for both
    for name in ("objects", "faces"):
        (got,), _ = read_datagrams(ends[name])
        assert read_bytes(got.shared) == snapshot
    assert read_datagrams(ends["echo"]) == ([], False)
    for _ in range(2):  # older snapshots' files are closed once `kept` newer ones went
        routes.send(Stimulus("image", image=snapshot))
    with pytest.raises(OSError):
        read_bytes(as_sent.shared)

    # A full pipe (a cortex not reading): its stimuli go through the Session from now on.
    sent = routes.send(Stimulus("command", text="enroll"))[1]
    while not sent.to_session:
        sent = routes.send(Stimulus("command", text="enroll"))[1]
    assert sent.to_session == [("faces", 0)]
    read_datagrams(ends["faces"])  # (read now, but the order must hold: still the Session's way)
    assert routes.send(Stimulus("command", text="enroll"))[1].to_session == [("faces", 0)]
    assert routes.send(Stimulus("image", image=snapshot))[1].to_session == [("faces", 0)]

    # A new route (the cortex restarted) starts afresh; a too big stimulus goes the Session's way.
    ours, ends["faces"] = stimuli_pair()
    routes.add(Route("s1", "faces", ("image", "command"), generation=1), ours)
    assert routes.send(Stimulus("command", text="enroll"))[1].piped == ["faces"]
    assert routes.send(Stimulus("text", text="x" * (4 << 20)))[1].to_session == [("echo", 0)]
    ends["faces"].setblocking(False)
    while not (sent := routes.send(Stimulus("command", text="enroll"))[1]).to_session:
        pass
    assert sent.to_session == [("faces", 1)]  # (the Session drops what was for an earlier start)

    # A cortex that ended (its end closed): its route goes, and it misses that one.
    ends["objects"].close()
    assert routes.send(Stimulus("image", image=snapshot))[1].ended == ["objects"]
    assert "objects" not in routes.pipes
    routes.close()


def test_a_session_hands_its_pipes_over_a_real_socket():
    from actors.dataplane.eye_link import open_routes, read_routes, send_route, stimuli_pair

    with tempfile.TemporaryDirectory() as directory:
        link = EyeLink("", "", os.path.join(directory, "routes.sock"))
        server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        server.bind(link.routes)
        server.listen(1)
        session = open_routes(link)
        gateway, _ = server.accept()
        gateway.setblocking(False)
        ours, theirs = stimuli_pair()
        assert send_route(session, Route("s1", "echo", ("text",)), ours)
        ours.close()  # (the Session's copy: the gateway has its own)
        assert send_route(session, RoutesGiven("s1"))
        (route, pipe), (given, none), *_ = read_routes(gateway)[0]
        assert route == Route("s1", "echo", ("text",)) and given == RoutesGiven("s1") and none is None
        pipe.send(b"down the handed pipe")
        assert theirs.recv(100) == b"down the handed pipe"
        session.close()
        assert read_routes(gateway) == ([], True)
        for sock in (pipe, theirs, gateway, server):
            sock.close()


def test_the_newest_session_of_an_eye_owns_its_routes_and_the_eye_waits_for_both_links():
    from actors.dataplane.eye_link import stimuli_pair

    table, pipes = RouteTable(kept=2), []

    def pipe():
        ours, theirs = stimuli_pair()
        pipes.append(theirs)
        return ours

    table.route(1, Route("s1", "echo", ("text",)), pipe())
    assert table.session_connected("s1") is False  # routes not all given yet
    assert table.routes_given(1, "s1") is True  # both: the eye may send
    first = table.get("s1")

    # The Session was restarted: its successor (connection 2) gives its own routes ...
    table.route(2, Route("s1", "echo", ("text",)), pipe())
    assert table.get("s1") is not first and not first.pipes  # (the old pipes are closed)
    assert not table.linked("s1")  # until the new one has given them all
    assert table.routes_given(2, "s1")
    # ... and a late word from the one it replaced changes nothing.
    late = pipe()
    table.route(1, Route("s1", "echo", ("text",)), late)
    assert late.fileno() == -1 and table.get("s1").pipes["echo"][1] is not late
    table.closed(1, "s1")
    assert table.get("s1") is not None
    table.closed(2, "s1")  # the current Session ended: its pipes go
    assert table.get("s1") is None and not table.linked("s1")

    table.route(3, Route("s2", "echo", ("text",)), pipe())
    table.close()
    assert table.get("s2") is None
    for end in pipes:
        end.close()
