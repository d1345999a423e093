"""Who may talk to the actor system: one address to listen on, peers allowed by address,
and a shared secret on every message.

thespian's TCP transport listens on every interface and unpickles whatever arrives:
anyone who can reach an actor port can run code in the brain. thespian itself offers
no authentication, so three small patches, applied in the brain before the actor
system forks (every admin and actor process inherits them), close that door:

1. **bind**: every actor socket binds the configured address only (thespian binds
   ``('', port)`` and merely *advertises* THESPIAN_BASE_IPADDR);
2. **allow-list**: a connection from an address not allowed is closed as soon as it is
   accepted, before a byte is read (and outgoing connections leave from the bound
   address, so that peers see the address they allow);
3. **signature**: every message carries an HMAC-SHA256 of its pickle under a shared
   secret, checked before ``pickle.loads`` — a peer without the secret cannot make the
   brain unpickle anything. (It authenticates; it does not encrypt: keep the actor
   network on a private link or a VPN.)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import pickle
import secrets
import socket
from dataclasses import dataclass

__all__ = ["NetworkGuard", "SignedPickle", "guard_actor_network", "is_loopback", "MessageTooBig"]

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

    @classmethod
    def for_host(cls, host: str, allowed_peers, secret: str | bytes, max_message_bytes: int) -> NetworkGuard:
        if isinstance(secret, str):
            secret = secret.encode()
        # A brain alone on loopback still signs, with a key no other process knows:
        # another user of the machine cannot reach its actors either.
        return cls(host, tuple(allowed_peers), secret or secrets.token_bytes(32), max_message_bytes)

    def networks(self) -> list:
        return [ipaddress.ip_network(peer, strict=False) for peer in (self.host, *self.allowed_peers)]


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

    def loads(self, data: bytes):
        if len(data) < 32 and data in self._acks:
            return self._acks[data]
        tag, body = data[:_TAG_BYTES], memoryview(data)[_TAG_BYTES:]  # (a frame is not copied again)
        if len(tag) < _TAG_BYTES or not hmac.compare_digest(tag, self._tag(body)):
            log.warning(
                "dropped an actor-network message without a valid signature (%d bytes): "
                "the sender does not have this brain's actor secret",
                len(data),
            )
            raise ValueError("actor-network message without a valid signature")
        return pickle.loads(body)


def guard_actor_network(guard: NetworkGuard) -> None:
    """Apply the three protections; call before the ActorSystem starts (it forks)."""
    from thespian.system.transport import IPBase, TCPTransport

    os.environ["THESPIAN_BASE_IPADDR"] = guard.host
    _bind_to(IPBase.IPActorAddress, guard.host)
    _guard_connections(TCPTransport.TCPTransport, guard.host, guard.networks())
    _survive_accept_errors(TCPTransport.TCPTransport)
    TCPTransport.ReceiveBuffer = _bounded_receive_buffer(guard.max_message_bytes)
    TCPTransport.serializer = SignedPickle(guard.secret)


class MessageTooBig(ValueError):
    """A peer announced an actor message over actors.max_message_bytes."""


def _bounded_receive_buffer(max_bytes: int) -> type:
    """thespian's ReceiveBuffer, refusing a message whose announced size is over max_bytes.

    A message is read whole before its signature can be checked, so without a bound any
    allowed peer could make an actor hold gigabytes (measured: 256 MB of an announced
    2 GB message took the admin from 31 to 288 MB, kept after the close). thespian
    closes the socket when this raises."""
    from thespian.system.transport.streamBuffer import ReceiveBuffer

    class BoundedReceiveBuffer(ReceiveBuffer):
        def addMore(self, buf):
            super().addMore(buf)
            if self._size is not None and self._size > max_bytes:
                log.warning(
                    "refused an actor-network message announced as %d bytes: over [actors] max_message_bytes (%d)",
                    self._size,
                    max_bytes,
                )
                self._buf = b""
                raise MessageTooBig(f"actor-network message of {self._size} bytes")

    return BoundedReceiveBuffer


def _bind_to(address_class, host: str) -> None:
    original_init = getattr(address_class, "_cortical_original_init", address_class.__init__)

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # thespian binds ('', port) for "external" addresses; bind the advertised
        # host instead when it is ours, so other interfaces do not listen at all.
        if self.sockname[0] == host:
            self.bindname = self.sockname

    address_class.__init__ = __init__
    address_class._cortical_original_init = original_init


def _guard_connections(transport_class, host: str, networks: list) -> None:
    original_new_socket = getattr(transport_class, "_cortical_original_new_socket", transport_class.new_socket)

    def new_socket(self, op, *args, **kwargs):
        result = original_new_socket(self, op, *args, **kwargs)
        if op is socket.socket:
            # An outgoing connection: from `host`, so that peers see the address they
            # allow (a machine with several addresses would otherwise pick by route).
            result.bind((host, 0))
        elif getattr(op, "__name__", "") == "accept":
            connection, (peer, _) = result[0], result[1][:2]
            if not any(ipaddress.ip_address(peer) in network for network in networks):
                connection.close()
                log.warning(
                    "refused an actor-network connection from %s: not this host and not in [actors] allowed_peers", peer
                )
                # thespian's accept loop logs an OSError (see _survive_accept_errors).
                raise ConnectionRefusedError(f"actor-network peer {peer} is not allowed")
        return result

    transport_class.new_socket = new_socket
    transport_class._cortical_original_new_socket = original_new_socket


def _survive_accept_errors(transport_class) -> None:
    """thespian 4.0.1 answers a failed accept() (our refusal above, or too many open
    files) by queueing a ``Thespian__UpdateWork`` among the *received envelopes*; the
    run loop then hands it to the actor as if it were a message, and the admin dies on
    ``AttributeError: … no attribute 'message'`` (measured: one connect() from a stranger
    ended the brain in ~1.5 s). Drop that marker: nothing was received."""
    from thespian.system.transport import Thespian__UpdateWork

    original_accept = getattr(transport_class, "_cortical_original_accept", transport_class._acceptNewIncoming)

    def _acceptNewIncoming(self):
        before = len(self._incomingEnvelopes)
        original_accept(self)
        added = self._incomingEnvelopes[before:]
        if any(isinstance(envelope, Thespian__UpdateWork) for envelope in added):
            self._incomingEnvelopes[before:] = [e for e in added if not isinstance(e, Thespian__UpdateWork)]

    transport_class._acceptNewIncoming = _acceptNewIncoming
    transport_class._cortical_original_accept = original_accept
