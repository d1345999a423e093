"""The gateway: the websocket endpoint for eyes, the eye page, /health and /metrics.

Each websocket connection gets a Session actor. The handler only checks, parses, queues
and writes: every actor-system call goes through the bridge. Limits (eyes, rates,
sizes, idleness) are enforced here, before anything reaches an actor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import ipaddress
import json
import logging
import mimetypes
import os
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import SERVER, Request, Response
from websockets.protocol import OPEN

from actors.messages import (
    CloseSession,
    CortexesNow,
    HoldersNow,
    OpenSession,
    Output,
    SessionEnded,
    SessionStarted,
    StartSession,
    WatchModels,
)
from brain.brain_view import BrainView
from brain.bridge import Bridge
from brain.config import Config, ServerConfig
from brain.eye_protocol import Close, Counted, EyeProtocol, Forward, Phase, Reply
from brain.limits import TokenBucket
from brain.memory import give_back_memory
from brain.metrics import Metrics
from brain.protocol import brain_error, close_reason

__all__ = ["Gateway", "FRONTEND_DIR", "host_allowed", "needs_token", "tls_context", "token_given"]

log = logging.getLogger(__name__)

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
MODELS_DIR = FRONTEND_DIR.parent / "models"
#: The model files the page may fetch (/models/…): the same the holder runs, for the edge.
PAGE_MODELS = frozenset({"movenet-lightning.json", "movenet-lightning.bin", "blazeface.json", "blazeface.bin"})
WS_PATH = "/ws"


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclasses.dataclass
class FileResponse(Response):
    """A file to send: the status and headers are the response's, the body is read from
    `path` as the client takes it; `done` is called once it is over, however it ended."""

    path: Path | None = None
    done: Callable[[], None] = lambda: None


def eye_socket_class(max_pings_per_s: float) -> type[ServerConnection]:
    """websockets' ServerConnection, answering pings at a sane rate only: websockets pongs
    every ping by itself, and a flood of them (858,600 in 10 s) cost 7.5 CPU-seconds.
    Browsers never send pings; a client that floods them is closed (1008, the reason).

    It also streams files: websockets writes a response's whole body into the transport
    at once, where it stays, copied, until the client reads it. 200 downloads of a 4.6 MB
    model that nobody read took the gateway from 66 to 1,309 MB."""

    class EyeSocket(ServerConnection):
        pings: TokenBucket | None = None

        async def handshake(self, process_request=None, process_response=None, server_header=SERVER) -> None:
            await asyncio.wait([self.request_rcvd, self.connection_lost_waiter], return_when=asyncio.FIRST_COMPLETED)
            if self.request is not None and process_request is not None:
                try:
                    response = process_request(self, self.request)
                except Exception:  # (websockets calls it again below, answers 500 and logs why)
                    pass
                else:
                    if isinstance(response, FileResponse):
                        await self.send_file(response)
                        return  # (not OPEN: websockets ends the connection, which is closed already)
                    process_request = lambda _connection, _request: response  # noqa: E731 (decided once)
            await super().handshake(process_request, process_response, server_header)

        async def send_file(self, response: FileResponse) -> None:
            """The headers, then the file by sendfile() (TLS: in chunks), each part only as
            the socket takes it: the gateway holds no copy however slowly the client reads.
            websockets' opening timeout (10 s) bounds the whole of it."""
            try:
                with open(response.path, "rb") as file:
                    self.transport.write(response.serialize())  # (its body is empty)
                    await self.loop.sendfile(self.transport, file)
                self.transport.close()  # once what is buffered has gone (TLS: then its close_notify)
                await asyncio.shield(self.connection_lost_waiter)
            except (OSError, RuntimeError):  # the client left, or the transport closed under us
                self.transport.abort()
            finally:
                response.done()

        def process_event(self, event) -> None:
            if isinstance(event, Frame) and event.opcode is Opcode.PING:
                now = self.loop.time()
                if self.pings is None:
                    self.pings = TokenBucket(max_pings_per_s, 2 * max_pings_per_s, now)
                if not self.pings.allow(now):
                    if self.protocol.state is OPEN:
                        log.warning("closing an eye that sent more than %g pings a second", max_pings_per_s)
                        self.protocol.fail(
                            CloseCode.POLICY_VIOLATION,
                            f"More than {max_pings_per_s:g} pings a second (server.max_pings_per_s).",
                        )
                        self.send_data()
                    return
            super().process_event(event)

    return EyeSocket


class EyeConnection:
    """One connected eye's I/O: its websocket, the writer that drains its outbound queue
    (giving up on an eye that takes nothing for `send_timeout_s`), and its Session. The
    rules live in `protocol` (brain/eye_protocol.py)."""

    def __init__(
        self, websocket: ServerConnection, session_id: str, protocol: EyeProtocol, lane: int, gateway: Gateway
    ):
        self.websocket = websocket
        self.session_id = session_id
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
        self.downloads = 0  # files being sent now (server.max_downloads)
        self._state_cache: tuple[float, int, bytes] = (-1.0, -1, b"")  # (monotonic time, changes, JSON)

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

    def push_event(self, text: str, to: str) -> int:
        """An event from POST /events to one eye or all; returns how many eyes got it."""
        eyes = list(self.eyes.values()) if to == "all" else [e for e in [self.eyes.get(to)] if e]
        for eye in eyes:
            eye.put(Output("events", "event", text, {"to": to}))
        return len(eyes)

    # -- websocket side -----------------------------------------------------------------

    async def handle(self, websocket: ServerConnection) -> None:
        server = self.config.server
        if len(self.eyes) >= server.max_eyes:
            self.metrics.refused.labels("max_eyes").inc()
            await websocket.close(1013, f"The brain already serves {server.max_eyes} eyes; try again later.")
            return
        protocol = EyeProtocol(server, time.monotonic(), os.environ.get(server.token_env, ""), self.commands)
        query_token = parse_qs(urlsplit(websocket.request.path).query).get("token", [""])[0]
        if not await self._run(websocket, protocol, protocol.start(query_token, time.monotonic()), None):
            return
        while protocol.phase is Phase.AWAITING_TOKEN:  # its first message must be the token
            if not await self._next(websocket, protocol, None):
                return
        session_id = uuid.uuid4().hex[:12]
        self.connections_total += 1
        self.metrics.connections.inc()
        eye = EyeConnection(websocket, session_id, protocol, self.connections_total, self)
        self.eyes[session_id] = eye
        self.view.opened(session_id, _remote(websocket), time.monotonic())
        self.metrics.eyes.set(len(self.eyes))
        writer = asyncio.create_task(eye.write_forever())
        eye.put(
            Output("brain", "status", "Connected. Starting the cortexes…", {"connected": True, "session": session_id})
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

    def _origin_allowed(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: cross-site hijacking needs one
        allowed = self.config.server.allowed_origins
        if allowed:
            return origin in allowed
        host = request.headers.get("Host", "")
        return urlsplit(origin).netloc == host

    def _token_given(self, request: Request) -> bool:
        token = os.environ.get(self.config.server.token_env, "")
        return token_given(token, request.path, request.headers.get("Authorization", ""))

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        server = self.config.server
        if len(request.path) > server.max_url_chars:
            # (one of 5,000 characters once reached the file system: 500, "File name too long")
            return _response(
                HTTPStatus.REQUEST_URI_TOO_LONG,
                f"The address is {len(request.path)} characters long, over the limit of {server.max_url_chars} "
                "(server.max_url_chars); the eye page is at /.\n".encode(),
                "text/plain",
            )
        path = request.path.split("?", 1)[0]
        host = request.headers.get("Host", "")
        if not host_allowed(host, self.config.server.allowed_hosts):
            # DNS rebinding: a hostile page whose name now resolves to this machine would
            # otherwise drive the brain (enrol or forget faces) as if it were its own page.
            self.metrics.refused.labels("host").inc()
            return _response(
                HTTPStatus.FORBIDDEN,
                f"This brain does not answer to the name {host!r}: open it by "
                "its address (such as http://127.0.0.1:8080/), or add the name to "
                "server.allowed_hosts.\n".encode(),
                "text/plain",
            )
        if path == WS_PATH:
            if not self._origin_allowed(request):
                self.metrics.refused.labels("origin").inc()
                return _response(
                    HTTPStatus.FORBIDDEN,
                    b"This page's origin may not open the brain's websocket (server.allowed_origins).\n",
                    "text/plain",
                )
            return None  # go on with the websocket handshake
        if needs_token(path, server) and not self._token_given(request):
            return _response(
                HTTPStatus.FORBIDDEN,
                f"Add ?token=... (the eye token) or 'Authorization: Bearer ...' to read {path}.\n".encode(),
                "text/plain",
            )
        if path == "/health":
            healthy = self.actor_system_alive
            body = {
                "status": "ok" if healthy else "actor system down",
                "eyes": len(self.eyes),
                "connections_total": self.connections_total,
                "uptime_s": round(time.time() - self.started),
            }
            return _response(
                HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
                json.dumps(body).encode(),
                "application/json",
            )
        if path == "/brain/state":
            return self._brain_state(request)
        if path == "/metrics":
            return _response(HTTPStatus.OK, self.metrics.render(), "text/plain; version=0.0.4")
        if path.startswith("/models/") and path[len("/models/") :] in PAGE_MODELS:
            file = MODELS_DIR / path[len("/models/") :]
            if file.is_file():
                return self._file(file, mimetypes.guess_type(file.name)[0] or "application/octet-stream")
        name = {"/": "index.html", "/brain": "brain.html"}.get(path, path.lstrip("/"))
        file = (FRONTEND_DIR / name).resolve()
        # Only files directly in frontend/: no "..", no hidden files, no directories.
        if file.parent != FRONTEND_DIR or name.startswith(".") or not _is_file(file):
            return _response(HTTPStatus.NOT_FOUND, b"Not found. The eye page is at /.\n", "text/plain")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return self._file(file, content_type)

    def _file(self, file: Path, content_type: str) -> Response:
        """A file to stream (EyeSocket.send_file), or 503 while max_downloads are being sent."""
        limit = self.config.server.max_downloads
        if self.downloads >= limit:
            self.metrics.refused.labels("downloads").inc()
            return _response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"The brain is sending {limit} files already (server.max_downloads); try again in a moment.\n".encode(),
                "text/plain",
                {"Retry-After": "1"},
            )
        try:
            size = file.stat().st_size
        except OSError:
            return _response(HTTPStatus.NOT_FOUND, b"Not found. The eye page is at /.\n", "text/plain")
        self.downloads += 1

        def done() -> None:
            self.downloads -= 1

        headers = _headers(content_type, size)
        headers["Connection"] = "close"
        return FileResponse(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, path=file, done=done)

    def _brain_state(self, request: Request) -> Response:
        """The live view (README, "Look inside"): the eye's guards, and its token when one is set."""
        if not self._token_given(request):
            return _response(HTTPStatus.FORBIDDEN, b"Add ?token=... (the eye token) to see the brain.\n", "text/plain")
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(request):
            return _response(
                HTTPStatus.FORBIDDEN, b"This page's origin may not read the brain's state.\n", "text/plain"
            )
        # Several pages and terminals may poll every second: one snapshot serves them all for
        # half a second (with 50 eyes it takes ~15 ms of the event loop to build), unless a
        # state changed (an eye came or left, a cortex restarted): that shows at once.
        now = time.monotonic()
        built, changes, body = self._state_cache
        if now - built > 0.5 or changes != self.view.changes:
            state = self.view.snapshot(now, _local_pss_mb(self.view.local_pids()))
            state["uptime_s"] = round(time.time() - self.started)
            self._state_cache = (now, self.view.changes, json.dumps(state).encode())
        return _response(HTTPStatus.OK, self._state_cache[2], "application/json")

    async def serve(self, bridge: Bridge, stop: asyncio.Future) -> None:
        """Serve until `stop` is done; then close every connection (and so every session)."""
        self.bridge = bridge
        if "models" in self.services:  # the live view is told of every holder from now on
            bridge.send(self.services["models"], WatchModels(bridge.eye_address))
        server = self.config.server
        tls = tls_context(server.cert, server.key)
        # No permessage-deflate: snapshots are JPEGs already, and deflating 400 KB of
        # them cost ~30 ms per frame on each side for nothing.
        async with serve(
            self.handle,
            server.host,
            server.port,
            process_request=self.http,
            max_size=server.close_over_bytes,
            compression=None,
            ssl=tls,
            create_connection=eye_socket_class(server.max_pings_per_s),
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

    async def _say_goodbye(self, within_s: float = 2.0) -> None:
        """Close every eye with the reason, which the page shows (a bare 1001 says nothing)."""
        if self.actor_system_alive:
            code, reason = 1001, "The brain is stopping; the page reconnects when it is back."
        else:
            code, reason = 1011, "The brain's actor system died and the brain stopped; see its log."
        closing = [eye.websocket.close(code, reason) for eye in list(self.eyes.values())]
        if closing:
            await asyncio.wait([asyncio.ensure_future(c) for c in closing], timeout=within_s)


def host_allowed(host_header: str, allowed_hosts: list[str]) -> bool:
    """Whether a request's Host names this brain: an IP address (no name to rebind),
    localhost, or a name in server.allowed_hosts. No Host at all: not a browser."""
    if not host_header:
        return True
    name = urlsplit(f"//{host_header}").hostname or ""
    if name == "localhost" or name in (h.lower() for h in allowed_hosts):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def needs_token(path: str, server: ServerConfig) -> bool:
    """Whether /metrics or /health asks for the eye token (when one is set): a choice
    (server.metrics_need_token, server.health_needs_token). /ws and /brain/state always do;
    the page and its files never (the page takes ?token= and gives it to /ws)."""
    return (path == "/metrics" and server.metrics_need_token) or (path == "/health" and server.health_needs_token)


def token_given(token: str, target: str, authorization: str) -> bool:
    """Whether a request for `target` (path and query) with that Authorization header
    carries the eye token, as ?token=… or "Bearer …"; True when no token is set."""
    if not token:
        return True
    offered = parse_qs(urlsplit(target).query).get("token", [""])[0]
    bearer = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else ""
    return any(hmac.compare_digest(given.encode(), token.encode()) for given in (offered, bearer))


def _headers(content_type: str, length: int) -> Headers:
    return Headers(
        {
            "Content-Type": content_type,
            "Content-Length": str(length),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
    )


def _response(status: HTTPStatus, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> Response:
    headers = _headers(content_type, len(body))
    for name, value in (extra or {}).items():
        headers[name] = value
    return Response(status.value, status.phrase, headers, body)


def _is_file(path: Path) -> bool:
    """Path.is_file(), False for a name the file system refuses (too long: ENAMETOOLONG)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _remote(websocket) -> str:
    address = websocket.remote_address
    return f"{address[0]}:{address[1]}" if address else ""


def _local_pss_mb(pids: list[int]) -> dict[int, float]:
    """The proportional memory of this machine's holders (read when asked, not per frame)."""
    found = {}
    for pid in pids:
        try:
            found[pid] = round(psutil.Process(pid).memory_full_info().pss / 2**20, 1)
        except (psutil.Error, AttributeError):
            pass
    return found
