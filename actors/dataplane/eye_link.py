"""How the gateway and the actors of its machine trade an eye's messages: Unix sockets.

Measured with `python -m bench.echo`: every message between the gateway and the actors
used to be a thespian message to or from its external context, whose `tell()` waits for
an acknowledgement and whose `listen()` reads one message per call; with 20 eyes the
whole brain carried 539 echo round trips a second. Now:

- outputs: each actor process writes them straight to the gateway's `outputs` socket
  (length-prefixed pickles, one connection per process, opened on first use);
- stimuli: a socket pair per cortex, made by its Session before the cortex is forked
  (which inherits its end), each message one datagram (SOCK_SEQPACKET: never half
  written). The Session hands the other end to the gateway over its `routes` socket
  (SCM_RIGHTS), with the kinds the cortex takes, and the gateway writes each stimulus
  straight down the pipes of the cortexes that take it: no actor wakes in between, and
  the Session stays the one that decides what goes where. Measured at 20 eyes, a
  thespian message cost the Session 537 µs of CPU and the echo cortex 321 µs a round
  trip; the Session's hop through its own socket still cost it 244 µs.
- a pipe that is full (a cortex not reading) or a stimulus too big for one datagram:
  from then on that cortex's stimuli go to its Session, which sends them on as thespian
  messages, so nothing overtakes. The Session also gets what no pipe takes (to say that
  no cortex takes it) and the eye's goodbye, on its `inputs` socket, which thespian
  watches for it (watching.py).

The sockets live in a directory only the brain's user can enter (the gateway makes it
with mkdtemp, mode 0700): nobody else can connect, so nobody else's pickles are read.
Sessions and cortexes always run on the brain's own machine; control messages (a session
started or ended) still travel as actor messages.
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
import threading
from dataclasses import dataclass

__all__ = [
    "EyeLink",
    "Frames",
    "HEADER",
    "MAX_FRAME_BYTES",
    "frame",
    "open_inputs",
    "open_routes",
    "read_inputs",
    "read_routes",
    "send_output",
    "send_route",
    "stimuli_pair",
]

HEADER = struct.Struct("!I")  # the length of the pickle that follows
MAX_FRAME_BYTES = 64 * 2**20  # far above any stimulus or output: a larger one is a broken peer
#: What a Session reads of its inputs socket per wake-up. The gateway refills that socket
#: as fast as it is read, so reading until it was empty once read for 50 s, into one
#: growing buffer, and passed nothing on: its eye stalled (seen on a busy machine).
INPUTS_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class EyeLink:
    path: str  # the gateway's outputs socket
    inputs: str = ""  # the gateway's inputs socket
    routes: str = ""  # the gateway's routes socket (SOCK_SEQPACKET)


def frame(message) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


class Frames:
    """Bytes in, whole messages out (a stream carries frames cut anywhere)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list:
        self.buffer += data
        messages = []
        while len(self.buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self.buffer)
            if length > self.max_bytes:
                raise ValueError(f"a {length}-byte frame is over the {self.max_bytes}-byte limit")
            if len(self.buffer) < HEADER.size + length:
                break
            messages.append(pickle.loads(self.buffer[HEADER.size : HEADER.size + length]))
            del self.buffer[: HEADER.size + length]
        return messages


def read_inputs(connection: socket.socket, frames: Frames) -> tuple[list, bool]:
    """The whole messages of one read (of at most INPUTS_READ_BYTES) of a non-blocking
    stream, and whether its other end has closed. More may wait: the caller is woken again
    (thespian watches the socket) after it has passed these on. ValueError: a broken frame."""
    try:
        data = connection.recv(INPUTS_READ_BYTES)
    except BlockingIOError:
        return [], False
    except OSError:
        return [], True
    return frames.feed(data), not data


def open_inputs(link: EyeLink, session_id: str) -> socket.socket:
    """A Session's connection for its stimuli: it says who it is, then only reads."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(link.inputs)
        connection.sendall(frame(session_id))
    except OSError:
        connection.close()
        raise
    connection.setblocking(False)
    return connection


def open_routes(link: EyeLink) -> socket.socket:
    """A Session's connection for handing its cortexes' pipes to the gateway."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(link.routes)
    except OSError:
        connection.close()
        raise
    return connection


def send_route(connection: socket.socket, message, pipe: socket.socket | None = None) -> bool:
    """One message to the gateway, with a pipe's end beside it; False if it is gone."""
    try:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        socket.send_fds(connection, [data], [pipe.fileno()] if pipe is not None else [])
        return True
    except OSError:
        return False


def read_routes(connection: socket.socket) -> tuple[list[tuple[object, socket.socket | None]], bool]:
    """What a Session has sent (each message with its pipe, if any), and whether it has
    closed. The connection is non-blocking."""
    messages: list[tuple[object, socket.socket | None]] = []
    while True:
        try:
            data, fds, flags, _address = socket.recv_fds(connection, 1 << 16, 1, socket.MSG_CMSG_CLOEXEC)
        except BlockingIOError:
            return messages, False
        except OSError:
            return messages, True
        if not data or flags & socket.MSG_CTRUNC:  # (closed, or out of files: the pipe is lost)
            for fd in fds:
                os.close(fd)
            fds = []
            if not data:
                return messages, True
        pipe = None
        if fds:
            pipe = socket.socket(fileno=fds[0])
            pipe.setblocking(False)
        messages.append((pickle.loads(data), pipe))


_connections: dict[tuple[int, str], socket.socket] = {}  # (pid, path): a forked child makes its own
_lock = threading.Lock()


def send_output(link: EyeLink, message) -> bool:
    """Write one message for the gateway; False if it cannot be reached (it is stopping)."""
    data = frame(message)
    key = (os.getpid(), link.path)
    with _lock:
        try:
            connection = _connections.get(key) or _connect(key)
            connection.sendall(data)
            return True
        except OSError:
            dropped = _connections.pop(key, None)
            if dropped is not None:
                dropped.close()
            return False


def _forget_inherited() -> None:
    """In a forked child: its parent's connections are not its own (close our copies)."""
    for key in [k for k in _connections if k[0] != os.getpid()]:
        _connections.pop(key).close()


os.register_at_fork(after_in_child=_forget_inherited)


def _connect(key: tuple[int, str]) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(key[1])
    except OSError:
        connection.close()
        raise
    _connections[key] = connection
    return connection


def stimuli_pair() -> tuple[socket.socket, socket.socket]:
    """(the gateway's end, the cortex's end): one datagram a message."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    return ours, theirs
