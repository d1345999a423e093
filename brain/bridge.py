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

An eye's stimuli and outputs do not go through thespian once its Session is up: outputs
come on the bridge's `outputs` socket, and stimuli go down the pipes the Session handed
over on the `routes` socket (brain/routes.py, actors/dataplane/routes.py), all read and
written here on the event loop (actors/dataplane/eye_link.py says why). Until a Session
has connected, its messages take the lanes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import queue
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from thespian.actors import ActorSystem

from actors.dataplane.datagrams import ACCEPT_AGAIN_S, listener
from actors.dataplane.eye_link import HEADER, MAX_FRAME_BYTES, EyeLink, frame, read_routes
from actors.messages import (
    STIMULUS_KINDS,
    CortexesNow,
    EyeOutput,
    Output,
    Rerouted,
    Route,
    RoutesGiven,
    SessionEnded,
    SessionStarted,
    Stimulus,
    WhoAmI,
    YouAre,
)
from actors.models.messages import HoldersNow
from brain.routes import RouteTable

__all__ = ["Bridge", "BridgeError", "SNAPSHOTS_KEPT"]

log = logging.getLogger(__name__)

_STOP = object()

#: The last snapshots' memory files kept open for each eye: at 15 frames/s, a second for a
#: busy cortex to read its stimulus (each reads it as soon as it arrives).
SNAPSHOTS_KEPT = 16


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
        self.sessions: dict[str, asyncio.StreamWriter] = {}  # session id → its inputs socket
        self.table = RouteTable(SNAPSHOTS_KEPT)  # every eye's pipes to its cortexes
        self._route_links: set[socket.socket] = set()  # the Sessions' connections to the routes socket
        self._numbers = itertools.count(1)  # of those connections, in the order they came
        self.on_linked: Callable[[str], None] | None = None  # a Session gave its routes and connected
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
        # mode 0700: this user only. A Unix socket's path holds at most 107 bytes: under a
        # deep $TMPDIR (a test's tmp_path is ~90) the bridge could not start ("AF_UNIX path
        # too long"), so such a TMPDIR is passed over for /tmp.
        base = tempfile.gettempdir()
        self._directory = tempfile.mkdtemp(prefix="cortical-eyes-", dir=base if len(base) <= 64 else "/tmp")
        self.link = EyeLink(
            f"{self._directory}/outputs.sock", f"{self._directory}/inputs.sock", f"{self._directory}/routes.sock"
        )
        self._server = await asyncio.start_unix_server(self._read_outputs, self.link.path)
        self._inputs_server = await asyncio.start_unix_server(self._session_connected, self.link.inputs)
        self._routes_server = listener(self.link.routes)
        self._loop.add_reader(self._routes_server.fileno(), self._route_connected)
        for thread in self._threads:
            thread.start()
        known = await self._loop.run_in_executor(None, self._address_known.wait, timeout_s)
        if not known or self.eye_address is None:
            raise BridgeError("the actor system did not tell the bridge its address in time")

    def send(self, address: Any, message: Any, lane: int = 0, done: Callable[[], None] | None = None) -> None:
        """Queue a message for an actor; never blocks. Messages on one lane stay in order.
        `done` is called on the loop once the actor has it (or the send failed)."""
        self._lanes[lane % len(self._lanes)].put((address, message, done))

    async def _read_outputs(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One actor process's outputs, in the order it wrote them."""
        try:
            while True:
                (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                if length > MAX_FRAME_BYTES:
                    log.error("an actor wrote a %d-byte output; closing its link", length)
                    return
                message = pickle.loads(await reader.readexactly(length))
                if isinstance(message, (EyeOutput, CortexesNow)):
                    self._deliver(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # that process ended
        finally:
            writer.close()

    async def _session_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A Session says which eye it serves; its stimuli are written here from then on."""
        try:
            (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
            session_id = pickle.loads(await reader.readexactly(min(length, 1024)))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError):
            writer.close()
            return
        replaced = self.sessions.get(session_id)
        if replaced is not None:
            replaced.close()  # (a restarted Session)
        self.sessions[session_id] = writer
        if self.table.session_connected(session_id):
            self._linked(session_id)
        try:
            await reader.read()  # nothing more comes: wait for its end
        except ConnectionError:
            pass
        finally:
            if self.sessions.get(session_id) is writer:
                del self.sessions[session_id]
                self.table.session_disconnected(session_id)
            writer.close()

    def _route_connected(self) -> None:
        try:
            connection, _ = self._routes_server.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # (out of files: listen again in a while, or the loop spins)
            log.warning(
                "the bridge could not take a Session's connection (%s); trying again in %g s", exc, ACCEPT_AGAIN_S
            )
            self._loop.remove_reader(self._routes_server.fileno())
            self._loop.call_later(ACCEPT_AGAIN_S, self._listen_for_routes)
            return
        connection.setblocking(False)
        self._route_links.add(connection)
        self._loop.add_reader(connection.fileno(), self._routes_ready, connection, next(self._numbers), [""])

    def _listen_for_routes(self) -> None:
        if self._routes_server.fileno() >= 0:
            self._loop.add_reader(self._routes_server.fileno(), self._route_connected)

    def _routes_ready(self, connection: socket.socket, number: int, session: list[str]) -> None:
        """A Session's routes (`number`: its connection's, in the order they came)."""
        messages, ended = read_routes(connection)
        for message, pipe in messages:
            if isinstance(message, Route):
                session[0] = message.session_id
                if pipe is None:
                    log.error("the %s cortex's pipe was lost on its way (out of files?)", message.cortex)
                else:
                    self.table.route(number, message, pipe)
            elif isinstance(message, RoutesGiven):
                session[0] = message.session_id
                if self.table.routes_given(number, message.session_id):
                    self._linked(message.session_id)
            elif pipe is not None:
                pipe.close()
        if ended:
            self._loop.remove_reader(connection.fileno())
            self._route_links.discard(connection)
            self.table.closed(number, session[0])
            connection.close()

    def _linked(self, session_id: str) -> None:
        if self.on_linked is not None:
            self.on_linked(session_id)

    def forget(self, session_id: str) -> None:
        """Close an eye's pipes and snapshots (it left)."""
        self.table.forget(session_id)

    def forward(
        self, session_id: str, address: Any, stimulus: Stimulus, lane: int, done: Callable[[], None] | None = None
    ) -> None:
        """A stimulus from the eye: down the pipes of the cortexes that take it, and to the
        Session what they cannot take. `done` as for send_to_session()."""
        routes = self.table.get(session_id)
        if routes is None:
            self.send_to_session(session_id, address, stimulus, lane, done)
            return
        stimulus, sent = routes.send(stimulus)
        if not sent.routed:
            self.send_to_session(session_id, address, stimulus, lane, done)
            return
        self._rest_to_session(session_id, address, stimulus, sent, lane, done)

    def pass_on(self, session_id: str, address: Any, output: Output) -> None:
        """An output of one of the eye's cortexes, to its other cortexes that subscribe to
        its kind (brain/listening.py), down the same pipes as the eye's stimuli, in order.
        A kind an eye sends stays the eye's; one nobody takes goes nowhere."""
        routes = self.table.get(session_id)
        if routes is None or output.kind in STIMULUS_KINDS:
            return
        heard = Stimulus(
            output.kind, output.text, args={"from": output.cortex, "data": output.data}, received=output.ts
        )
        heard, sent = routes.send(heard, exclude=output.cortex)
        self._rest_to_session(session_id, address, heard, sent, 0, None)

    def _rest_to_session(
        self, session_id: str, address: Any, stimulus: Stimulus, sent, lane: int, done: Callable[[], None] | None
    ) -> None:
        """What the pipes could not take goes to the Session, marked for its cortex."""
        for n, (cortex, generation) in enumerate(sent.to_session, 1):
            last = n == len(sent.to_session)
            self.send_to_session(
                session_id, address, Rerouted(cortex, generation, stimulus), lane, done if last else None
            )
        if not sent.to_session and done is not None:
            done()

    def send_to_session(
        self, session_id: str, address: Any, message: Any, lane: int, done: Callable[[], None] | None = None
    ) -> None:
        """Like send(), through the Session's socket once it has connected. `done` is called
        once the message has left for the Session (the socket's buffer has room again)."""
        writer = self.sessions.get(session_id)
        if writer is None or writer.is_closing():
            self.send(address, message, lane, done)
            return
        writer.write(frame(message))
        if done is not None:
            if writer.transport.get_write_buffer_size() == 0:
                done()
            else:
                asyncio.ensure_future(self._drained(writer, done))

    @staticmethod
    async def _drained(writer: asyncio.StreamWriter, done: Callable[[], None]) -> None:
        try:
            await writer.drain()
        except ConnectionError:
            pass
        done()

    def stop(self) -> None:
        """Flush queued sends, then stop all threads."""
        for lane in self._lanes:
            lane.put(_STOP)
        for thread in self._threads[1:]:
            thread.join(timeout=10)
        self._stopping.set()
        self._threads[0].join(timeout=10)

    def close_links(self) -> None:
        """On the loop (asyncio servers are not thread-safe): stop taking the actors'
        connections and remove the sockets' directory."""
        for server in (getattr(self, "_server", None), getattr(self, "_inputs_server", None)):
            if server is not None:
                server.close()
        routes_server = getattr(self, "_routes_server", None)
        if routes_server is not None:
            self._loop.remove_reader(routes_server.fileno())
            routes_server.close()
        self.table.close()
        for connection in self._route_links:
            self._loop.remove_reader(connection.fileno())
            connection.close()
        self._route_links.clear()
        if getattr(self, "_directory", None):
            shutil.rmtree(self._directory, ignore_errors=True)

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
                # (outputs come by the socket; HoldersNow from the model directory, for the live view)
                if isinstance(message, (SessionStarted, SessionEnded, HoldersNow)):
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
