"""The link from a cortex to a model holder on its machine: requests and answers as Unix
datagrams (actors/datagrams.py), not thespian messages.

Measured with one eye on objects at 640×427 (`python -m bench.objects`): of the 21.5 ms a
frame spent at the holder, 18 were the model and ~2.4 the two thespian hops between
cortex and holder (each wakes thespian's loop, pickles, signs, and waits for an
acknowledgement). A holder listens on a socket of its own; a cortex on the same machine
connects on its first request and then sends its requests and reads the answers there,
watched by thespian (ThespianWatch) like any actor's files. A holder on another machine,
a full socket, or a message too big for one datagram: thespian's way, as before.

The socket is in Linux's abstract namespace (nothing on disk to clean up after a killed
holder), so anyone on the machine could connect: the holder accepts only processes of its
own user (SO_PEERCRED), since what it reads is unpickled.
"""

from __future__ import annotations

import os
import socket
import struct

__all__ = ["accept", "connect", "listen"]

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def listen() -> tuple[socket.socket, str]:
    """A holder's listening socket (non-blocking) and the name cortexes connect to."""
    name = f"\0cortical-holder-{os.getpid()}-{os.urandom(6).hex()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(name)
    listener.listen(64)
    listener.setblocking(False)
    return listener, name


def accept(listener: socket.socket) -> list[socket.socket]:
    """The cortexes waiting to connect, of this user only (others are closed at once)."""
    accepted = []
    while True:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return accepted
        except OSError:
            return accepted
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
        _pid, uid, _gid = _CREDENTIALS.unpack(credentials)
        if uid != os.getuid():
            connection.close()
            continue
        connection.setblocking(False)
        accepted.append(connection)


def connect(name: str) -> socket.socket | None:
    """A cortex's connection to a holder's socket (non-blocking); None if it is gone."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(name)
    except OSError:
        connection.close()
        return None
    connection.setblocking(False)
    return connection
