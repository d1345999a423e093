"""Watching: the base of an actor that reads files of its own (a stimuli pipe, a holder's
link, the gateway's inputs socket, an async worker's pipe) beside its thespian mailbox.

thespian 4.0.1 watches an actor's files only while it keeps asking: after each message it
watches exactly the files in the ThespianWatch that receiveMessage returned, and nothing
if it returned anything else or raised (thespian/system/actorManager.py). One handler
that forgot to return the list, or one that raised, left the actor deaf to its sockets:
an eye then hung unheard. So the list is returned here, after every message, and each
ready file's handler runs on its own: one that raises is logged, and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ThespianWatch, WatchMessage

__all__ = ["Watching"]

log = logging.getLogger(__name__)


class Watching(ActorTypeDispatcher):
    """An actor whose files thespian watches: after `watch_file(fd, handler)`, `handler()` is
    called each time `fd` can be read, until `unwatch_file(fd)`. Subclasses leave
    receiveMessage and receiveMsg_WatchMessage to this base. (The names say "file": a
    cortex's own `self.watch` is not this base's.)"""

    def __init__(self) -> None:
        super().__init__()
        self._handlers: dict[int, Callable[[], None]] = {}  # fd → its handler, in the order watched

    def watch_file(self, fd: int, handler: Callable[[], None]) -> None:
        """From the end of this message on, call `handler()` whenever `fd` can be read."""
        self._handlers[fd] = handler

    def unwatch_file(self, fd: int) -> None:
        """Stop calling the handler of `fd` (before closing `fd`: its number may be given to a
        newer file)."""
        self._handlers.pop(fd, None)

    def watched_fds(self) -> list[int]:
        """The files watched, in the order they were first watched (thespian reports ready
        ones in the order it was given, so their handlers run in that order)."""
        return list(self._handlers)

    def receiveMessage(self, message, sender):
        super().receiveMessage(message, sender)
        if isinstance(message, ActorExitRequest):  # (the actor is ending: nothing to watch)
            return None
        return ThespianWatch(self.watched_fds()) if self._handlers else None

    def receiveMsg_WatchMessage(self, message: WatchMessage, sender) -> None:
        for fd in message.ready:
            handler = self._handlers.get(fd)  # (None: an earlier handler unwatched it)
            if handler is None:
                continue
            try:
                handler()
            except Exception:
                log.exception("%s failed reading its file %d; it keeps watching", type(self).__name__, fd)
        self.files_read()

    def files_read(self) -> None:
        """Called once every ready file's handler has run: work that should see all of what
        came in at once (the holder forms its batches here, from every connection)."""
