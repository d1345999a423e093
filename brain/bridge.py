"""The bridge between the asyncio gateway and the thespian actor system.

thespian's external API blocks, and one context must never be shared across threads
(they are not thread-safe). So the event loop never calls it: send threads drain queues into
`tell()` and a receive thread `listen()`s and hands each message to the loop with
`call_soon_threadsafe`. Each thread owns a private context. (Sessions are created by
the SessionSupervisor actor, on request, so no thread here ever waits on createActor.)

Everything an actor sends to the bridge's address reaches the gateway's `deliver`, on
the event loop.

thespian's external `tell()` returns only once the receiving actor has acknowledged
the message, so one send thread caps the whole brain at one round trip to an actor
at a time. Sends are spread over several send threads ("lanes"); each eye keeps to
one lane, so its messages stay in order.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from thespian.actors import ActorSystem

from actors.messages import EyeOutput, SessionEnded, SessionStarted, WhoAmI, YouAre

__all__ = ["Bridge", "BridgeError"]

log = logging.getLogger(__name__)

_STOP = object()


class BridgeError(RuntimeError):
    """The actor system did not answer the bridge."""


class Bridge:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        reflector: Any,
        deliver: Callable[[Any], None],
        send_lanes: int = 4,
        listen_timeout_s: float = 0.25,
    ):
        self._loop = loop
        self._reflector = reflector
        self._deliver = deliver
        self._listen_timeout_s = listen_timeout_s
        self._lanes: list[queue.Queue] = [queue.Queue() for _ in range(send_lanes)]
        self._stopping = threading.Event()
        self._address_known = threading.Event()
        self.eye_address: Any = None
        self.actor_sid = 0
        self.admin_pid = 0
        self._threads = [
            threading.Thread(target=self._receive_loop, name="bridge-receive", daemon=True),
            *(
                threading.Thread(target=self._send_loop, args=(lane,), name=f"bridge-send-{n}", daemon=True)
                for n, lane in enumerate(self._lanes)
            ),
        ]

    # -- used by the event loop ----------------------------------------------------------

    async def start(self, timeout_s: float = 10.0) -> None:
        for thread in self._threads:
            thread.start()
        known = await self._loop.run_in_executor(None, self._address_known.wait, timeout_s)
        if not known or self.eye_address is None:
            raise BridgeError("the actor system did not tell the bridge its address in time")

    def send(self, address: Any, message: Any, lane: int = 0, done: Callable[[], None] | None = None) -> None:
        """Queue a message for an actor; never blocks. Messages on one lane stay in order.
        `done` is called on the loop once the actor has it (or the send failed)."""
        self._lanes[lane % len(self._lanes)].put((address, message, done))

    def stop(self) -> None:
        """Flush queued sends, then stop all threads."""
        for lane in self._lanes:
            lane.put(_STOP)
        for thread in self._threads[1:]:
            thread.join(timeout=10)
        self._stopping.set()
        self._threads[0].join(timeout=10)

    # -- the threads -----------------------------------------------------------------------

    def _receive_loop(self) -> None:
        with ActorSystem().private() as context:
            answer = context.ask(self._reflector, WhoAmI(), 10)
            if isinstance(answer, YouAre):
                self.eye_address = answer.address
                self.actor_sid = answer.actor_sid
                self.admin_pid = answer.admin_pid
            self._address_known.set()
            while not self._stopping.is_set():
                message = context.listen(self._listen_timeout_s)
                if message is None:
                    continue
                if isinstance(message, (EyeOutput, SessionStarted, SessionEnded)):
                    try:
                        self._loop.call_soon_threadsafe(self._deliver, message)
                    except RuntimeError:  # the loop has closed: we are shutting down
                        return
                else:
                    log.debug("bridge ignored %r", message)

    def _send_loop(self, lane: queue.Queue) -> None:
        with ActorSystem().private() as context:
            while (item := lane.get()) is not _STOP:
                address, message, done = item
                try:
                    context.tell(address, message)
                except Exception:
                    log.exception("could not send %s to %s", type(message).__name__, address)
                if done is not None:
                    try:
                        self._loop.call_soon_threadsafe(done)
                    except RuntimeError:  # the loop has closed: we are shutting down
                        pass
