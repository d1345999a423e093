"""Who may talk to the actor system: one address to listen on, peers allowed by address,
and a shared secret on every message.

thespian's TCP transport listens on every interface and unpickles whatever arrives:
anyone who can reach an actor port can run code in the brain. thespian itself offers
no authentication, so three protections, installed as patches to thespian before the
actor system forks (brain/thespian_patches.py lists them all), close that door:

1. **bind**: every actor socket binds the configured address only (thespian binds
   ``('', port)`` and merely *advertises* THESPIAN_BASE_IPADDR);
2. **allow-list**: a connection from an address not allowed is closed as soon as it is
   accepted, before a byte is read (and outgoing connections leave from the bound
   address, so that peers see the address they allow);
3. **signature**: every message carries an HMAC-SHA256 of its pickle under a shared
   secret, checked before ``pickle.loads`` — a peer without the secret cannot make the
   brain unpickle anything. (It authenticates; it does not encrypt: keep the actor
   network on a private link or a VPN.)

What is read before a signature can be checked is bounded too (``FrameBuffer``): a
frame must begin with its size (a stream without one was read 20 bytes at a time,
forever), a size over the message cap is refused unread, and the connections that have
not yet delivered a signed message hold at most a set number of bytes together.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import pickle
import secrets
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brain.config import ActorsConfig

__all__ = [
    "CannotStart",
    "network_guard",
    "NetworkGuard",
    "SignedPickle",
    "FrameBuffer",
    "Strangers",
    "is_loopback",
    "frame_size",
    "to_evict",
    "MessageTooBig",
    "MalformedFrame",
    "StrangersFull",
    "BadSignature",
]

log = logging.getLogger(__name__)

_TAG_BYTES = 32  # SHA-256


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class NetworkGuard:
    """How this actor system is protected (see the module docstring)."""

    host: str  # the only address its sockets bind
    allowed_peers: tuple[str, ...]  # addresses or networks (CIDR) besides `host` itself
    secret: bytes
    max_message_bytes: int  # what a peer may make an actor buffer for one message
    max_unauthenticated_bytes: int  # what connections yet to send a signed message may hold, together

    @classmethod
    def for_host(
        cls, host: str, allowed_peers, secret: str | bytes, max_message_bytes: int, max_unauthenticated_bytes: int
    ) -> NetworkGuard:
        if isinstance(secret, str):
            secret = secret.encode()
        # A brain alone on loopback still signs, with a key no other process knows:
        # another user of the machine cannot reach its actors either.
        secret = secret or secrets.token_bytes(32)
        return cls(host, tuple(allowed_peers), secret, max_message_bytes, max_unauthenticated_bytes)

    def networks(self) -> list:
        return [ipaddress.ip_network(peer, strict=False) for peer in (self.host, *self.allowed_peers)]


class BadSignature(ValueError):
    """An actor-network message whose HMAC is not this brain's: its sender lacks the secret."""


class SignedPickle:
    """pickle with an HMAC in front; stands in for thespian's TCP `serializer`."""

    def __init__(self, secret: bytes):
        from thespian.system.transport import streamBuffer

        self._secret = secret
        # thespian's two acknowledgement packets are constants pickled at import time,
        # unsigned: they are recognised byte for byte, never unpickled from a peer.
        self._acks = {
            packet: packet_value
            for packet, packet_value in (
                (pickle.dumps(streamBuffer.ackPacket), streamBuffer.ackPacket),
                (pickle.dumps(streamBuffer.ackDataErrPacket), streamBuffer.ackDataErrPacket),
            )
        }

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()

    def dumps(self, value) -> bytes:
        body = pickle.dumps(value)
        return self._tag(body) + body

    def loads(self, data: bytes | bytearray):
        if len(data) < _TAG_BYTES and bytes(data) in self._acks:
            return self._acks[bytes(data)]
        tag, body = data[:_TAG_BYTES], memoryview(data)[_TAG_BYTES:]  # (a frame is not copied again)
        if len(tag) < _TAG_BYTES or not hmac.compare_digest(tag, self._tag(body)):
            log.warning(
                "dropped an actor-network message without a valid signature (%d bytes): "
                "the sender does not have this brain's actor secret",
                len(data),
            )
            raise BadSignature("actor-network message without a valid signature")
        return pickle.loads(body)


#: A frame is its size in ASCII digits, ">", then that many bytes (thespian's
#: `toSendBuffer`). The ">" must come within this many bytes, as many as thespian reads
#: before it knows a size: 19 digits outnumber any size a peer may send.
HEAD_BYTES = 20


class MessageTooBig(ValueError):
    """A peer announced an actor message over actors.max_message_bytes."""

    def __init__(self, size: int):
        super().__init__(f"actor-network message of {size} bytes")
        self.size = size


class MalformedFrame(ValueError):
    """A peer's first bytes are not a frame's size: it does not speak thespian's protocol."""


class StrangersFull(ValueError):
    """Connections that have sent no signed message yet hold too much, this one the most."""


def frame_size(head: bytes, max_bytes: int) -> int | None:
    """The size a frame's first bytes announce, or None while its ">" may still come.

    Raises MalformedFrame at the first byte that cannot belong to a size (so a stream
    without a ">" is refused within HEAD_BYTES, not read forever), and MessageTooBig
    for a size over max_bytes. Stricter than thespian's ``int()``, which took " 1_2>"."""
    mark = head.find(b">", 0, HEAD_BYTES)
    digits = head[: mark if mark >= 0 else HEAD_BYTES]
    if (digits and not digits.isdigit()) or mark == 0 or (mark < 0 and len(head) >= HEAD_BYTES):
        raise MalformedFrame(f"an actor-network frame began with {bytes(head[:HEAD_BYTES])!r}, not a size")
    if mark < 0:
        return None
    size = int(digits)
    if size > max_bytes:
        raise MessageTooBig(size)
    return size


def to_evict(held: dict, limit: int) -> list:
    """Which unauthenticated buffers (key → bytes held) to drop so that all of them
    together hold at most `limit`: the largest first, so that a stranger filling the
    bound cannot keep out a small first message from one of our own actors."""
    total = sum(held.values())
    evicted = []
    for key, size in sorted(held.items(), key=lambda item: item[1], reverse=True):
        if total <= limit:
            break
        evicted.append(key)
        total -= size
    return evicted


class Strangers:
    """The receive buffers of this process's connections that have not yet delivered a
    signed message (any allowed address may connect and announce a size: only a complete
    message can be checked), and the most they may hold together."""

    def __init__(self, limit: int):
        self.limit = limit
        self._pid = os.getpid()
        self._buffers: weakref.WeakSet = weakref.WeakSet()  # (a closed connection's buffer is freed)
        self._lock = threading.Lock()  # (the brain's bridge runs an actor context per thread)

    def _ours(self) -> weakref.WeakSet:
        if self._pid != os.getpid():  # a forked actor: its parent's connections are not its own
            self._pid, self._buffers, self._lock = os.getpid(), weakref.WeakSet(), threading.Lock()
        return self._buffers

    def add(self, buffer: FrameBuffer) -> None:
        buffers = self._ours()
        with self._lock:
            buffers.add(buffer)

    def grew(self, buffer: FrameBuffer) -> None:
        buffers = self._ours()
        with self._lock:
            held = {each: each.held for each in buffers}
        if sum(held.values()) <= self.limit:
            return
        for victim in to_evict(held, self.limit):
            log.warning(
                "dropped the %d bytes an unauthenticated actor-network connection held: such connections "
                "may hold [actors] max_unauthenticated_bytes (%d) in all",
                victim.held,
                self.limit,
            )
            victim.drop()
        if buffer.dropped:
            raise StrangersFull("unauthenticated actor-network connections hold too much")


class FrameBuffer:
    """Reads one frame for thespian's TCP transport: the methods of its ReceiveBuffer,
    with the size checked as its first bytes come, the body appended to one bytearray
    (thespian's ``bytes +=`` copied the whole message at every read), and, for a
    connection not yet authenticated, what it holds counted with the others' (see
    Strangers). thespian closes the socket when addMore raises."""

    def __init__(self, deserialize, max_bytes: int, strangers: Strangers | None = None):
        self._deserialize = deserialize
        self._max_bytes = max_bytes
        self._head = b""  # the size's digits, until its ">"
        self._size: int | None = None
        self._buf = bytearray()
        self._extra = b""
        self._strangers = strangers
        self.dropped = False
        if strangers is not None:
            strangers.add(self)

    @property
    def held(self) -> int:
        return 0 if self.isDone() else len(self._head) + len(self._buf)

    def drop(self) -> None:
        self.dropped = True
        self._head, self._buf = b"", bytearray()

    def addMore(self, data) -> None:
        if self.dropped:
            raise StrangersFull("this connection's bytes were dropped to keep the unauthenticated bound")
        if not data:
            return
        if self._size is None:
            head = self._head + bytes(data)
            try:
                self._size = frame_size(head, self._max_bytes)
            except MessageTooBig as refused:
                log.warning(
                    "refused an actor-network message announced as %d bytes: over [actors] max_message_bytes (%d)",
                    refused.size,
                    self._max_bytes,
                )
                self.drop()
                raise
            except MalformedFrame as refused:
                log.warning("closed an actor-network connection: %s (only actors of this brain speak here)", refused)
                self.drop()
                raise
            if self._size is None:
                self._head = head
            else:
                self._head, data = b"", memoryview(head)[head.index(b">") + 1 :]
        if self._size is not None:
            want = self._size - len(self._buf)
            self._buf += data[:want]
            if len(data) > want:
                self._extra += bytes(data[want:])  # (thespian reads no further than a frame: its acks do)
        if self._strangers is not None and not self.isDone():
            self._strangers.grew(self)

    def is_empty(self) -> bool:
        return not self._head and self._size is None

    def remainingAmount(self) -> int:
        """How much to read next: no further than the end of the size, then of the frame."""
        if self._size is None:
            return HEAD_BYTES - len(self._head)
        return self._size - len(self._buf)

    def isDone(self) -> bool:
        return self._size is not None and len(self._buf) == self._size

    def removeExtra(self) -> None:
        self._extra = b""

    def completed(self):
        """(the message, bytes read past it) once the frame is whole, else None."""
        if self.isDone():
            return self._deserialize(self._buf), self._extra
        return None


class CannotStart(RuntimeError):
    """A reason, in a sentence, why the brain will not start."""


def network_guard(actors: ActorsConfig, joining: bool = False) -> NetworkGuard:
    """The guard for `[actors]` as the config says, with the secret from its environment
    variable; CannotStart, in a sentence, where the brain must not run so."""
    secret = os.environ.get(actors.secret_env, "")
    if not secret and (joining or not is_loopback(actors.host)):
        why = "joins another brain" if joining else f"listens on {actors.host}, which other machines can reach"
        raise CannotStart(
            f"the actor system {why}, so every actor message must be signed with a shared secret: "
            f"set {actors.secret_env} to the same value on every machine, e.g. "
            f"`export {actors.secret_env}=$(openssl rand -hex 32)`"
        )
    if secret and len(secret) < 16:
        raise CannotStart(
            f"{actors.secret_env} is too short ({len(secret)} characters); use at least 16, e.g. `openssl rand -hex 32`"
        )
    return NetworkGuard.for_host(
        actors.host, actors.allowed_peers, secret, actors.max_message_bytes, actors.max_unauthenticated_bytes
    )
