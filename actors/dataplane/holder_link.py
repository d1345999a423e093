"""The link from a cortex to a model holder on its machine: requests and answers as Unix
datagrams (datagrams.py), not thespian messages.

Measured with one eye on objects at 640×427 (`python -m bench.objects`): of the 21.5 ms a
frame spent at the holder, 18 were the model and ~2.4 the two thespian hops between
cortex and holder (each wakes thespian's loop, pickles, signs, and waits for an
acknowledgement). A holder listens on a socket of its own; a cortex on the same machine
connects on its first request and then sends its requests and reads the answers there,
watched by thespian like any actor's files (watching.py). A holder on another machine,
a full socket, or a message too big for one datagram: thespian's way, as before.

The socket is in Linux's abstract namespace (nothing on disk to clean up after a killed
holder), so anyone on the machine could connect, or take a dead holder's name: both ends
check the other's credentials (SO_PEERCRED), since what each reads is unpickled. The
holder accepts only processes of its own user; a cortex talks only to the holder's own
process.
"""

from __future__ import annotations

import os
import socket
import struct

from actors.dataplane import datagrams

__all__ = ["accept", "connect", "listen", "peer"]

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def listen() -> tuple[socket.socket, str]:
    """A holder's listening socket (non-blocking) and the name cortexes connect to."""
    name = f"\0cortical-holder-{os.getpid()}-{os.urandom(6).hex()}"
    return datagrams.listener(name), name


def accept(listener: socket.socket) -> list[socket.socket]:
    """The cortexes waiting to connect, of this user only (others are closed at once).
    OSError if none can be taken now (out of files: try again later)."""
    accepted = []
    while True:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return accepted
        except OSError:
            if accepted:
                return accepted  # (the error comes again next time)
            raise
        if peer(connection)[1] != os.getuid():
            connection.close()
            continue
        connection.setblocking(False)
        accepted.append(connection)


def connect(name: str, pid: int) -> socket.socket | None:
    """A cortex's connection to the holder `pid`'s socket (non-blocking); None if it is
    gone, its backlog is full (a hung holder: never wait for it), or another process now
    listens there."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.setblocking(False)
    try:
        connection.connect(name)
        if peer(connection) != (pid, os.getuid()):
            raise ConnectionRefusedError("not the holder")
    except OSError:
        connection.close()
        return None
    return connection


def peer(connection: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end (for a listener: the one that listened)."""
    pid, uid, _gid = _CREDENTIALS.unpack(
        connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    )
    return pid, uid
