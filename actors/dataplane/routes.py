"""Where an eye's stimuli go: the pipes its Session gave the gateway, one per cortex, and
the writing down them (which Session may give an eye's routes is brain/routes.py).

The Session decides (each route names a cortex and the kinds it takes, from the config);
the gateway only writes down the pipes, so a stimulus reaches its cortexes without
waking any actor in between (eye_link.py says why). What cannot go down a pipe goes to
the Session, which sends it on the thespian way:

- a kind no route takes (the Session tells the eye so, or the cortex is being restarted:
  it misses that one);
- everything for a cortex whose pipe was once full or too small for a stimulus, from then
  on, so that nothing overtakes what went before (a new route starts afresh, and the
  Session drops what was meant for the cortex's earlier start: it missed those too).

A snapshot is written once to a memory file that every cortex reads (see
shared_pixels.py); the last `kept` of them stay open for cortexes that lag.
"""

from __future__ import annotations

import errno
import pickle
import socket
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from actors.dataplane.shared_pixels import SHARE_FROM_BYTES, Kept, share_bytes
from actors.messages import Route, Stimulus

__all__ = ["EyeRoutes", "Sent"]


@dataclass
class Sent:
    """What became of one stimulus."""

    piped: list[str] = field(default_factory=list)  # cortexes it went down the pipe to
    to_session: list[tuple[str, int]] = field(default_factory=list)  # (cortex, its route's generation): for the Session
    ended: list[str] = field(default_factory=list)  # cortexes whose pipe had closed (they ended)

    @property
    def routed(self) -> bool:
        """Whether any route took it (if not, the Session hears of it)."""
        return bool(self.piped or self.to_session or self.ended)


class _Pipe(NamedTuple):
    kinds: tuple[str, ...]
    sock: socket.socket  # non-blocking, one datagram a message
    generation: int  # the route's


class EyeRoutes:
    """One eye's routes."""

    def __init__(self, kept: int):
        self.pipes: dict[str, _Pipe] = {}  # cortex → its pipe
        self.by_session: set[str] = set()  # cortexes whose stimuli go through the Session for good
        self.kept = Kept(kept)

    def add(self, route: Route, pipe: socket.socket) -> None:
        old = self.pipes.pop(route.cortex, None)
        if old is not None:
            old.sock.close()
        self.pipes[route.cortex] = _Pipe(tuple(route.kinds), pipe, route.generation)
        self.by_session.discard(route.cortex)

    def send(self, stimulus: Stimulus, exclude: str = "") -> tuple[Stimulus, Sent]:
        """Write `stimulus` down the pipe of each cortex that takes it (but `exclude`: a
        cortex never hears its own outputs); returns it as sent (a snapshot then names its
        memory file) and where it went."""
        sent = Sent()
        takers = [name for name, pipe in self.pipes.items() if stimulus.kind in pipe.kinds and name != exclude]
        if not takers:
            return stimulus, sent
        if len(stimulus.image) >= SHARE_FROM_BYTES:  # (through memory, not down each pipe)
            handle = share_bytes(stimulus.image)  # (written once, read by each cortex)
            if handle is not None:
                self.kept.add(handle.fd)
                stimulus = replace(stimulus, image=b"", shared=handle)
        data = pickle.dumps(stimulus, protocol=pickle.HIGHEST_PROTOCOL)
        for name in takers:
            if name in self.by_session:
                sent.to_session.append((name, self.pipes[name].generation))
                continue
            try:
                self.pipes[name].sock.send(data)
                sent.piped.append(name)
            except (BlockingIOError, InterruptedError):  # full: a cortex not reading
                self._by_session(name, sent)
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:  # too big for one datagram
                    self._by_session(name, sent)
                else:  # its cortex ended (being restarted): it misses this one
                    self.pipes.pop(name).sock.close()
                    sent.ended.append(name)
        return stimulus, sent

    def _by_session(self, name: str, sent: Sent) -> None:
        self.by_session.add(name)
        sent.to_session.append((name, self.pipes[name].generation))

    def close(self) -> None:
        for pipe in self.pipes.values():
            pipe.sock.close()
        self.pipes.clear()
        self.kept.close()
