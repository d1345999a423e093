"""Run asyncio work (aiobotocore, aiohttp) from inside an actor.

An actor handles one message at a time and must never block, and thespian is not
thread-safe. So the coroutines run on an event loop in a thread of the actor's own
process; each finished job is queued and a byte written to a pipe; the actor has
thespian watch the pipe (actors/dataplane/watching.py) and collects the results on its
own thread.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["AsyncWorker"]


class AsyncWorker:
    def __init__(self, name: str = "async-worker"):
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def fileno(self) -> int:
        """The fd the actor must watch (`watch_file(fileno, ...)` on a Watching actor)."""
        return self._read_fd

    def submit(self, make: Callable[[], Awaitable[Any]], tag: Any) -> None:
        """Run make() on the worker's loop; its result or exception comes back from collect()."""

        async def run() -> None:
            try:
                outcome = (tag, await make(), None)
            except Exception as exc:  # reported to the actor, which decides what the eye hears
                outcome = (tag, None, exc)
            self._done.put(outcome)
            os.write(self._write_fd, b"!")

        self._loop.call_soon_threadsafe(lambda: self._loop.create_task(run()))

    def run(self, make: Callable[[], Awaitable[Any]], timeout: float) -> Any:
        """Run make() on the worker's loop and wait for it (for set-up, not per message)."""
        return asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout)

    def collect(self) -> list[tuple[Any, Any, Exception | None]]:
        """Every finished (tag, result, exception), oldest first."""
        try:
            while os.read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            pass
        done = []
        while not self._done.empty():
            done.append(self._done.get())
        return done

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        os.close(self._read_fd)
        os.close(self._write_fd)
