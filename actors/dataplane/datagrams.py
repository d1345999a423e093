"""Messages between processes of one machine as Unix datagrams (SOCK_SEQPACKET): one
pickle a datagram, so a message is never half written or half read, and a sender that
finds the socket full or the message too big learns it at once and can go the thespian
way instead.

Used by an eye's stimuli pipes (eye_link.py) and the link from a cortex to a model holder
on its machine (holder_link.py). Only the brain's own user can reach these sockets, so
the pickles read are the brain's own.
"""

from __future__ import annotations

import logging
import pickle
import socket

__all__ = ["ACCEPT_AGAIN_S", "BACKLOG", "listener", "read_datagrams", "send_datagram"]

log = logging.getLogger(__name__)

_buffer = bytearray(1 << 18)  # above a Unix socket's largest datagram (its send buffer, ~208 KB)

#: Connections a listener (a holder's link, the gateway's routes socket) holds until taken.
#: A connect storm (fifty eyes at once: ~150 cortexes dial the holder together) overflowed
#: 64, and the cortexes refused fell back to thespian messages, which starved their eyes.
#: The kernel caps it at net.core.somaxconn (4096 on current Linux).
BACKLOG = 1024
#: After failing to take a connection (out of files), listen again this much later: the
#: listener stays readable, so watching it meanwhile would spin.
ACCEPT_AGAIN_S = 1.0


def listener(address: str) -> socket.socket:
    """A non-blocking socket listening at `address` (a path, or a name in Linux's abstract
    namespace) for connections that carry datagrams."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def send_datagram(sock: socket.socket, message) -> bool:
    """One message down a non-blocking socket; False if it cannot go that way now (full,
    too big for one datagram, or closed)."""
    try:
        sock.send(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        return True
    except OSError:
        return False


def read_datagrams(sock: socket.socket) -> tuple[list, bool]:
    """What waits in a non-blocking socket, and whether its other end has closed."""
    messages = []
    while True:
        try:
            size, _, flags, _ = sock.recvmsg_into([_buffer])
        except BlockingIOError:
            return messages, False
        except OSError:
            return messages, True
        if not size:
            return messages, True
        if flags & socket.MSG_TRUNC:  # (a system whose socket buffers are bigger than ours)
            log.error("a message over %d bytes was cut short; it is dropped", len(_buffer))
            continue
        messages.append(pickle.loads(memoryview(_buffer)[:size]))
