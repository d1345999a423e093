"""The signed pickle that stands in for thespian's serializer, and the buffer that reads
a frame before its signature can be checked (pure; the network tests with real actor
systems are in test_scale_out.py and test_security.py)."""

import pickle

import pytest
from thespian.system.transport.streamBuffer import ackDataErrMsg, ackMsg, toSendBuffer

from brain.actor_network import (
    HEAD_BYTES,
    FrameBuffer,
    MalformedFrame,
    MessageTooBig,
    SignedPickle,
    Strangers,
    StrangersFull,
    frame_size,
    to_evict,
)
from brain.config import ConfigError, parse_config


def test_a_signed_message_round_trips():
    signed = SignedPickle(b"k" * 32)
    assert signed.loads(signed.dumps({"frame": b"\x00" * 1000})) == {"frame": b"\x00" * 1000}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # a changed body
        lambda data: bytes([data[0] ^ 1]) + data[1:],  # a changed signature
        lambda data: data[32:],  # no signature
        lambda data: b"",
    ],
)
def test_anything_but_an_intact_signed_message_is_refused(tamper):
    signed = SignedPickle(b"k" * 32)
    with pytest.raises(ValueError, match="without a valid signature"):
        signed.loads(tamper(signed.dumps("hello")))


def test_another_secret_is_refused():
    with pytest.raises(ValueError):
        SignedPickle(b"b" * 32).loads(SignedPickle(b"a" * 32).dumps("hello"))


def test_thespians_unsigned_acknowledgements_pass():
    signed = SignedPickle(b"k" * 32)
    for framed, value in ((ackMsg, "ACK"), (ackDataErrMsg, "ACK+DATAERR")):
        body = framed.split(b">", 1)[1]
        assert signed.loads(body) == value
    assert pickle.dumps("ACK") == ackMsg.split(b">", 1)[1]


# What is read before a signature can be checked (brain/actor_network.py, FrameBuffer).

MAX = 16 << 20


def read(buffer: FrameBuffer, stream: bytes, chunk: int = 1 << 20) -> int:
    """Feed `stream` as thespian's transport reads it (never more than the buffer asks
    for, at most `chunk` at once) until the frame is whole; return how many reads."""
    reads = 0
    while not buffer.isDone():
        piece, stream = stream[: min(chunk, buffer.remainingAmount())], stream[min(chunk, buffer.remainingAmount()) :]
        assert piece, "the stream ended before the frame did"
        buffer.addMore(piece)
        reads += 1
    return reads


@pytest.mark.parametrize(
    ("head", "size"),
    [
        (b"", None),
        (b"12", None),
        (b"12>", 12),
        (b"0>", 0),
        (b"12>\x80\x04", 12),
        (b"9" * 19, None),
        (b"16777216>", MAX),
    ],
)
def test_a_frame_begins_with_its_size(head, size):
    assert frame_size(head, MAX) == size


@pytest.mark.parametrize(
    "head", [b"GET / HTTP/1.1", b"a", b" 12>", b"+12>", b"1_2>", b"12 >", b">", b"9" * 20, b"\xd9\xa0>"]
)
def test_anything_else_is_refused_at_its_first_bytes(head):
    with pytest.raises(MalformedFrame, match="not a size"):
        frame_size(head, MAX)


def test_a_size_over_the_cap_is_refused_when_announced():
    with pytest.raises(MessageTooBig) as refused:
        frame_size(b"16777217>", MAX)
    assert refused.value.size == MAX + 1


def test_a_stream_without_a_size_is_refused_within_a_few_bytes():
    buffer, taken = FrameBuffer(pickle.loads, MAX), 0
    with pytest.raises(MalformedFrame):
        while True:  # one byte at a time, as slowly as a peer may send it
            taken += 1
            buffer.addMore(b"7" if taken < 20 else b"x")
    assert taken <= HEAD_BYTES


def test_a_signed_message_is_read_whole_in_as_few_reads_as_the_transport_allows():
    signed = SignedPickle(b"k" * 32)
    message = {"frame": bytes(range(256)) * 20_000}  # ~5 MB
    framed = toSendBuffer(message, signed.dumps)
    buffer = FrameBuffer(signed.loads, MAX)
    reads = read(buffer, framed, chunk=1 << 20)
    assert buffer.completed() == (message, b"")
    assert reads == 1 + -(-(len(framed) - HEAD_BYTES) // (1 << 20))  # the size's read, then 1 MB reads


def test_thespians_acknowledgements_are_read_as_before():
    signed = SignedPickle(b"k" * 32)
    for framed, value in ((ackMsg, "ACK"), (ackDataErrMsg, "ACK+DATAERR")):
        buffer = FrameBuffer(signed.loads, MAX)
        read(buffer, framed, chunk=7)
        assert buffer.completed() == (value, b"")


@pytest.mark.parametrize(
    ("held", "evicted"),
    [
        ({"a": 10, "b": 10}, []),
        ({"a": 15, "b": 6}, ["a"]),
        ({"small": 5, "big": 30, "middle": 18}, ["big", "middle"]),
        ({"newcomer": 3, "hog": 20}, ["hog"]),
    ],
)
def test_the_largest_unauthenticated_buffers_are_dropped_first(held, evicted):
    assert to_evict(held, 20) == evicted


def test_strangers_hold_a_bounded_total_and_the_hog_is_cut():
    strangers = Strangers(limit=1000)
    hog, newcomer = FrameBuffer(pickle.loads, MAX, strangers), FrameBuffer(pickle.loads, MAX, strangers)
    known = FrameBuffer(pickle.loads, MAX)  # a connection that already sent a signed message
    hog.addMore(b"5000>" + b"\0" * 900)
    known.addMore(b"5000>" + b"\0" * 4000)  # (not counted)
    newcomer.addMore(b"400>" + b"\0" * 200)  # over the bound: the hog's bytes go, not the newcomer's
    assert (hog.held, newcomer.held) == (0, 200)
    with pytest.raises(StrangersFull):  # (thespian closes its socket)
        hog.addMore(b"\0")
    newcomer.addMore(b"\0" * 200)
    assert newcomer.isDone() and newcomer.held == 0  # whole: no longer held against the others
    alone = FrameBuffer(pickle.loads, MAX, strangers)
    with pytest.raises(StrangersFull):  # one stranger over the bound alone is cut itself
        alone.addMore(b"5000>" + b"\0" * 1001)


def test_unauthenticated_connections_may_hold_at_least_one_whole_message():
    with pytest.raises(ConfigError, match="must be at least actors.max_message_bytes"):
        parse_config({"actors": {"max_message_bytes": 32 << 20, "max_unauthenticated_bytes": 16 << 20}}, "t.toml")
