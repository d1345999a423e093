"""The signed pickle that stands in for thespian's serializer (pure; the network tests
with real actor systems are in test_scale_out.py and test_security.py)."""

import pickle

import pytest
from thespian.system.transport.streamBuffer import ackDataErrMsg, ackMsg

from brain.actor_network import SignedPickle


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
