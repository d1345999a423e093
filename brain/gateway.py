"""The gateway: the websocket endpoint for eyes (its HTTP paths: brain/http_routes.py).

Each websocket connection gets a Session actor. The handler only checks, parses, queues
and writes: every actor-system call goes through the bridge. Limits (eyes, rates,
sizes, idleness) are enforced here, before anything reaches an actor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from actors.messages import CloseSession, CortexesNow, OpenSession, Output, SessionEnded, SessionStarted, StartSession
from actors.models.messages import HoldersNow, WatchModels
from brain.brain_view import BrainView
from brain.bridge import Bridge
from brain.config import Config
from brain.eye_names import Refused, name_eye
from brain.eye_protocol import Close, Counted, EyeProtocol, Forward, Phase, Reply
from brain.eye_socket import eye_socket_class
from brain.http_routes import WS_PATH, HttpRoutes
from brain.memory import give_back_memory
from brain.metrics import Metrics
from brain.protocol import brain_error, close_reason

__all__ = ["Gateway", "tls_context"]

log = logging.getLogger(__name__)


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class EyeConnection:
    """One connected eye's I/O: its websocket, the writer that drains its outbound queue
    (giving up on an eye that takes nothing for `send_timeout_s`), and its Session. The
    rules live in `protocol` (brain/eye_protocol.py)."""

    def __init__(
        self,
        websocket: ServerConnection,
        session_id: str,
        name: str,
        protocol: EyeProtocol,
        lane: int,
        gateway: Gateway,
    ):
        self.websocket = websocket
        self.session_id = session_id
        self.name = name  # its page's (?eye=kitchen) or the brain's (eye-3): in /brain and MQTT topics
        self.protocol = protocol
        self.lane = lane  # the bridge send lane that keeps this eye's messages in order
        self.gateway = gateway
        self.send_timeout_s = protocol.server.send_timeout_s
        self.ready = asyncio.Event()  # outputs wait in the queue
        self.room = asyncio.Event()  # forwarded messages arrived: reading may go on
        self.frames_dropped: dict[str, int] = {}  # cortex → its latest-frame-wins count
        self.session = None  # address of its Session actor; changes if it is restarted
        self.started: asyncio.Future = asyncio.get_running_loop().create_future()
        self.linked = asyncio.Event()  # its Session gave the bridge its cortexes' pipes

    def put(self, output: Output) -> None:
        self.gateway.count(self.protocol.reply(output))
        self.ready.set()

    def sent(self, size: int) -> Callable[[], None]:
        """What the bridge calls once a forwarded message of `size` bytes reached the Session."""

        def arrived() -> None:
            self.protocol.sent(size)
            if self.protocol.reading():
                self.room.set()

        return arrived

    async def wait_for_room(self) -> None:
        while not self.protocol.reading():
            self.room.clear()
            await self.room.wait()

    async def write_forever(self) -> None:
        outbox = self.protocol.outbox
        while True:
            await self.ready.wait()
            self.ready.clear()
            while outbox:
                waiting_bytes = outbox.bytes
                try:
                    async with asyncio.timeout(self.send_timeout_s):  # (wait_for made a task a send)
                        await self.websocket.send(outbox.pop(), text=True)  # (UTF-8 already: reply())
                except TimeoutError:
                    # Its keepalive ping cannot get out behind a full buffer either: nothing
                    # else would ever end it, and its queue would hold memory for nobody.
                    log.warning(
                        "eye %s took no output for %g s (%d waiting, %.1f MB): disconnecting it",
                        self.session_id,
                        self.send_timeout_s,
                        len(outbox) + 1,
                        waiting_bytes / 1e6,
                    )
                    self.gateway.metrics.refused.labels("not_reading").inc()
                    self.websocket.transport.abort()
                    return


class Gateway:
    def __init__(self, config: Config, services: dict | None = None, supervisor=None):
        self.config = config
        self.services = services or {}
        self.supervisor = supervisor  # the SessionSupervisor actor
        self.bridge: Bridge | None = None
        self.eyes: dict[str, EyeConnection] = {}
        self.connections_total = 0
        self.metrics = Metrics()
        self.started = time.time()
        self.actor_system_alive = True
        self.commands = config.commands
        self.view = BrainView()  # what GET /brain/state and `brain top` show
        self.routes = HttpRoutes(self)  # every HTTP path, and the guards of /ws
        self.home = None  # a HomeLink: MQTT, when [mqtt] url is set (brain/home/)

    # -- actor side ----------------------------------------------------------------------

    def linked(self, session_id: str) -> None:
        """The bridge says: this eye's Session gave its routes; its stimuli may flow."""
        if (eye := self.eyes.get(session_id)) is not None:
            eye.linked.set()

    def deliver(self, message) -> None:
        """Called on the loop by the bridge for everything actors send to the gateway."""
        if isinstance(message, HoldersNow):  # (the model directory's, for the live view)
            self.view.holders_now(message, time.monotonic())
            return
        eye = self.eyes.get(message.session_id)
        if isinstance(message, SessionStarted):
            if eye is None:  # the eye left before its Session was (re)started
                self.bridge.send(message.address, CloseSession())
                return
            eye.session = message.address
            if message.restarted:
                self.metrics.restarts.labels("session").inc()
            if not eye.started.done():
                eye.started.set_result(message.address)
            return
        if eye is None:
            return
        if isinstance(message, CortexesNow):
            self.view.cortexes_now(message)
            return
        if isinstance(message, SessionEnded):
            eye.put(brain_error(message.reason))
            asyncio.ensure_future(eye.websocket.close(1011, close_reason(message.reason)))
            return
        output = message.output
        self.metrics.observe_output(output)
        self.view.output(message.session_id, output, time.monotonic())
        dropped = output.meter.frames_dropped if output.meter else None
        if dropped is not None:
            before = eye.frames_dropped.get(output.cortex, 0)
            if dropped > before:
                self.metrics.dropped.labels("latest_frame_wins").inc(dropped - before)
            eye.frames_dropped[output.cortex] = dropped
        eye.put(output)
        if self.home is not None:
            self.home.output(eye.name, output)
        if eye.session is not None:  # (and to the eye's cortexes that listen for its kind)
            self.bridge.pass_on(message.session_id, eye.session, output)

    def push_event(self, text: str, to: str) -> int:
        """An event from POST /events to one eye (by session id or name) or all; returns how
        many eyes got it."""
        eyes = [e for e in self.eyes.values() if to in ("all", e.session_id, e.name)]
        for eye in eyes:
            output = Output("events", "event", text, {"to": to})
            eye.put(output)
            if self.home is not None:
                self.home.output(eye.name, output)
        return len(eyes)

    def obey_home(self, name: str, output: Output) -> None:
        """The house (MQTT) asks the eye named `name` to say something, or to open, close or look."""
        for eye in self.eyes.values():
            if eye.name == name:
                self.metrics.observe_output(output)
                eye.put(output)

    # -- websocket side -----------------------------------------------------------------

    async def handle(self, websocket: ServerConnection) -> None:
        server = self.config.server
        if len(self.eyes) >= server.max_eyes:
            await self._refuse_full(websocket)
            return
        eye = await self._arrive(websocket)
        if eye is not None:
            await self._serve(websocket, eye)

    async def _refuse_full(self, websocket: ServerConnection) -> None:
        self.metrics.refused.labels("max_eyes").inc()
        await websocket.close(1013, f"The brain already serves {self.config.server.max_eyes} eyes; try again later.")

    async def _arrive(self, websocket: ServerConnection) -> EyeConnection | None:
        """Its token and its name; then it is among the eyes. None if it was refused."""
        server = self.config.server
        protocol = EyeProtocol(server, time.monotonic(), os.environ.get(server.token_env, ""), self.commands)
        query_token = parse_qs(urlsplit(websocket.request.path).query).get("token", [""])[0]
        if not await self._run(websocket, protocol, protocol.start(query_token, time.monotonic()), None):
            return
        while protocol.phase is Phase.AWAITING_TOKEN:  # its first message must be the token
            if not await self._next(websocket, protocol, None):
                return
        asked = parse_qs(urlsplit(websocket.request.path).query).get("eye", [""])[0]
        named = name_eye(
            asked, self.connections_total + 1, {e.name for e in self.eyes.values()}, server.max_eye_name_chars
        )
        if isinstance(named, Refused):
            self.metrics.refused.labels("eye_name").inc()
            await websocket.close(1013 if named.retry else 1008, close_reason(named.reason))
            return
        if len(self.eyes) >= server.max_eyes:
            # Again, with no await before it joins the eyes: others came in while it sent its
            # token (a storm of a hundred all passed the first check). A seat is not held while
            # a token is awaited, or sockets that never send one could keep every eye out.
            await self._refuse_full(websocket)
            return None
        session_id = uuid.uuid4().hex[:12]
        self.connections_total += 1
        self.metrics.connections.inc()
        eye = EyeConnection(websocket, session_id, named, protocol, self.connections_total, self)
        self.eyes[session_id] = eye
        self.view.opened(session_id, _remote(websocket), time.monotonic(), eye.name)
        self.metrics.eyes.set(len(self.eyes))
        if self.home is not None:
            self.home.eye_joined(eye.name)
        return eye

    async def _serve(self, websocket: ServerConnection, eye: EyeConnection) -> None:
        """Start its Session, then carry its messages until it leaves; then end the Session."""
        server, session_id = self.config.server, eye.session_id
        writer = asyncio.create_task(eye.write_forever())
        eye.put(
            Output(
                "brain",
                "status",
                f"Connected as {eye.name}. Starting the cortexes…",
                {"connected": True, "session": session_id, "eye": eye.name},
            )
        )
        opening = OpenSession(
            session_id,
            self.bridge.eye_address,
            self.config.cortexes,
            {"eye": asdict(self.config.eye)},
            self.services,
            self.config.supervision,
            self.bridge.link,
        )
        self.bridge.send(self.supervisor, StartSession(opening), eye.lane)
        try:
            try:
                # Started, and its routes given: each stimulus then goes one way, in order.
                async with asyncio.timeout(server.session_start_timeout_s):
                    await asyncio.shield(eye.started)
                    await eye.linked.wait()
            except TimeoutError:
                eye.put(
                    brain_error(
                        "The brain could not start a session in time; try again in a "
                        "moment, and check the brain's log if it keeps happening."
                    )
                )
                await asyncio.sleep(0.1)  # let the writer flush the error before closing
                await websocket.close(1011, "session did not start")
                return
            await self._read(websocket, eye)
        except ConnectionClosed:
            pass
        finally:
            del self.eyes[session_id]
            if self.home is not None:
                self.home.eye_left(eye.name)
            self.view.closed(session_id)
            self.metrics.eyes.set(len(self.eyes))
            writer.cancel()
            give_back_memory()
            # (A Session started after this point is closed by deliver(SessionStarted).)
            if eye.session is not None:
                self.bridge.send_to_session(eye.session_id, eye.session, CloseSession(), eye.lane)
            self.bridge.forget(eye.session_id)

    async def _read(self, websocket: ServerConnection, eye: EyeConnection) -> None:
        while True:
            await eye.wait_for_room()
            if not await self._next(websocket, eye.protocol, eye):
                return

    async def _next(self, websocket: ServerConnection, protocol: EyeProtocol, eye: EyeConnection | None) -> bool:
        """Read the next message (or time out) and carry out what the protocol says;
        False once the connection is closed."""
        try:
            async with asyncio.timeout(max(0.0, protocol.deadline() - time.monotonic())):
                message = await websocket.recv()
        except TimeoutError:
            actions = protocol.tick(time.monotonic())
        except ConnectionClosed:
            return False
        else:
            actions = protocol.receive(message, time.monotonic())
        return await self._run(websocket, protocol, actions, eye)

    async def _run(self, websocket: ServerConnection, protocol: EyeProtocol, actions: list, eye) -> bool:
        self.count(actions)
        for action in actions:
            if isinstance(action, Forward):
                self.bridge.forward(eye.session_id, eye.session, action.stimulus, eye.lane, eye.sent(action.size))
            elif isinstance(action, Reply) and eye is not None:
                eye.ready.set()
            elif isinstance(action, Close):
                await websocket.close(action.code, close_reason(action.reason))
                return False
        return protocol.phase is not Phase.CLOSED

    def count(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, Counted):
                getattr(self.metrics, action.metric).labels(action.label).inc(action.n)

    # -- HTTP side ----------------------------------------------------------------------

    async def serve(self, bridge: Bridge, stop: asyncio.Future) -> None:
        """Serve until `stop` is done; then close every connection (and so every session)."""
        self.bridge = bridge
        if self.config.mqtt.url:
            from brain.home.link import HomeLink  # (only then: the MQTT client costs the gateway 1 MB)

            self.home = HomeLink(self.config.mqtt, self.config.published_kinds, self.obey_home, self.metrics)
            self.home.start()
        if "models" in self.services:  # the live view is told of every holder from now on
            bridge.send(self.services["models"], WatchModels(bridge.eye_address))
        server = self.config.server
        tls = tls_context(server.cert, server.key)
        # No permessage-deflate: snapshots are JPEGs already, and deflating 400 KB of
        # them cost ~30 ms per frame on each side for nothing.
        try:
            async with serve(
                self.handle,
                server.host,
                server.port,
                process_request=self.routes.http,
                max_size=server.close_over_bytes,
                compression=None,
                ssl=tls,
                create_connection=eye_socket_class(
                    server.max_pings_per_s, server.open_timeout_s, server.download_timeout_s
                ),
                # websockets' own would bound a file's whole transfer: the eye socket keeps the time
                open_timeout=None,
                **({"ssl_handshake_timeout": server.open_timeout_s} if tls else {}),
                ping_interval=server.ping_interval_s,
                ping_timeout=server.ping_timeout_s,
            ) as ws_server:
                ports = sorted({s.getsockname()[1] for s in ws_server.sockets})
                self.bound_port = ports[0] if ports else server.port
                scheme = "https" if tls else "http"
                log.info(
                    "eye page on %s://%s:%s/ (websocket %s): open it in Chrome",
                    scheme,
                    server.host,
                    self.bound_port,
                    WS_PATH,
                )
                await stop
                await self._say_goodbye()
                ws_server.close(close_connections=True)
                await ws_server.wait_closed()
        finally:
            if self.home is not None:  # (after the eyes' goodbyes, which it sends on)
                await self.home.close()

    async def _say_goodbye(self, within_s: float = 2.0) -> None:
        """Close every eye with the reason, which the page shows (a bare 1001 says nothing)."""
        if self.actor_system_alive:
            code, reason = 1001, "The brain is stopping; the page reconnects when it is back."
        else:
            code, reason = 1011, "The brain's actor system died and the brain stopped; see its log."
        closing = [eye.websocket.close(code, reason) for eye in list(self.eyes.values())]
        if closing:
            await asyncio.wait([asyncio.ensure_future(c) for c in closing], timeout=within_s)


def _remote(websocket) -> str:
    address = websocket.remote_address
    return f"{address[0]}:{address[1]}" if address else ""
