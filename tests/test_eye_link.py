"""The eye link's framing (pure) and its sender on a real Unix socket."""

import os
import socket
import tempfile

import pytest

from actors.eye_link import EyeLink, Frames, frame, send_output
from actors.messages import EyeOutput, Output, Stimulus


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


def test_a_cortex_pipe_carries_whole_messages_in_order_and_says_when_full_or_closed():
    from actors.eye_link import read_stimuli, send_stimulus, stimuli_pair

    ours, theirs = stimuli_pair()
    theirs.setblocking(False)
    sent = 0
    while send_stimulus(ours, Stimulus("text", text=f"n{sent}")):  # until the pipe is full
        sent += 1
    assert sent > 100  # (a cortex that has not read this many is stuck: the Session then sends the slow way)
    got, ended = read_stimuli(theirs)
    assert [m.text for m in got] == [f"n{i}" for i in range(sent)] and not ended
    assert send_stimulus(ours, Stimulus("image", image=b"x" * (8 << 20))) is False  # too big for one datagram
    assert send_stimulus(None, Stimulus("text", text="no pipe")) is False
    ours.close()
    got, ended = read_stimuli(theirs)
    assert got == [] and ended
