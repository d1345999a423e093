"""The gateway: the websocket endpoint for eyes, the eye page, and /health.

Each websocket connection gets a Session actor. The handler only parses, queues and
writes: every actor-system call goes through the bridge.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import mimetypes
import uuid
from dataclasses import asdict
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from actors.messages import CloseSession, EyeOutput, OpenSession, Output
from actors.session import Session
from brain.bridge import Bridge
from brain.config import Config
from brain.protocol import ProtocolError, brain_error, encode_output, parse_message

__all__ = ["Gateway", "FRONTEND_DIR"]

log = logging.getLogger(__name__)

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
WS_PATH = "/ws"


class EyeConnection:
    """One connected eye: its outbound queue, which drops the oldest output when full."""

    def __init__(self, websocket: ServerConnection, session_id: str, limit: int, lane: int):
        self.websocket = websocket
        self.lane = lane  # the bridge send lane that keeps this eye's messages in order
        self.session_id = session_id
        self.outbox: collections.deque[Output] = collections.deque(maxlen=limit)
        self.dropped = 0
        self.ready = asyncio.Event()

    def put(self, output: Output) -> None:
        if len(self.outbox) == self.outbox.maxlen:
            self.dropped += 1
        self.outbox.append(output)
        self.ready.set()

    async def write_forever(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.outbox:
                await self.websocket.send(encode_output(self.outbox.popleft()))


class Gateway:
    def __init__(self, config: Config, services: dict | None = None):
        self.config = config
        self.services = services or {}
        self.bridge: Bridge | None = None
        self.eyes: dict[str, EyeConnection] = {}
        self.connections_total = 0

    # -- actor side ----------------------------------------------------------------------

    def deliver(self, message: EyeOutput) -> None:
        """Called on the loop by the bridge for every output an actor sent to an eye."""
        eye = self.eyes.get(message.session_id)
        if eye is not None:
            eye.put(message.output)

    def push_event(self, text: str, to: str) -> int:
        """An event from POST /events to one eye or all; returns how many eyes got it."""
        eyes = list(self.eyes.values()) if to == "all" else [e for e in [self.eyes.get(to)] if e]
        for eye in eyes:
            eye.put(Output("events", "event", text, {"to": to}))
        return len(eyes)

    # -- websocket side -----------------------------------------------------------------

    async def handle(self, websocket: ServerConnection) -> None:
        server = self.config.server
        session_id = uuid.uuid4().hex[:12]
        self.connections_total += 1
        eye = EyeConnection(websocket, session_id, server.outbound_queue, self.connections_total)
        self.eyes[session_id] = eye
        writer = asyncio.create_task(eye.write_forever())
        eye.put(Output("brain", "status", "Connected. Starting the cortexes…",
                       {"connected": True, "session": session_id}))
        creation = asyncio.ensure_future(self.bridge.create_actor(Session))
        session = None
        try:
            try:
                session = await asyncio.wait_for(asyncio.shield(creation), server.session_start_timeout_s)
            except TimeoutError:
                eye.put(brain_error("The brain could not start a session in time; try again in a "
                                    "moment, and check the brain's log if it keeps happening."))
                await asyncio.sleep(0.1)  # let the writer flush the error before closing
                await websocket.close(1011, "session did not start")
                return
            self.bridge.send(session, OpenSession(session_id, self.bridge.eye_address,
                                                  self.config.cortexes,
                                                  {"eye": asdict(self.config.eye)}, self.services),
                             eye.lane)
            async for message in websocket:
                try:
                    stimulus = parse_message(message, server.max_message_bytes)
                except ProtocolError as exc:
                    eye.put(brain_error(str(exc)))
                    continue
                self.bridge.send(session, stimulus, eye.lane)
        except ConnectionClosed:
            pass
        finally:
            del self.eyes[session_id]
            writer.cancel()
            if session is not None:
                self.bridge.send(session, CloseSession(), eye.lane)
            else:
                # The Session may still be being created: close it once it exists.
                creation.add_done_callback(lambda done: self._close_created_session(done, eye.lane))

    def _close_created_session(self, creation: asyncio.Future, lane: int) -> None:
        if not creation.cancelled() and creation.exception() is None:
            self.bridge.send(creation.result(), CloseSession(), lane)

    # -- HTTP side ----------------------------------------------------------------------

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            return None  # go on with the websocket handshake
        if path == "/health":
            body = {"status": "ok", "eyes": len(self.eyes), "connections_total": self.connections_total}
            return _response(HTTPStatus.OK, json.dumps(body).encode(), "application/json")
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (FRONTEND_DIR / name).resolve()
        # Only files directly in frontend/: no "..", no hidden files, no directories.
        if file.parent != FRONTEND_DIR or name.startswith(".") or not file.is_file():
            return _response(HTTPStatus.NOT_FOUND, b"Not found. The eye page is at /.\n", "text/plain")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return _response(HTTPStatus.OK, file.read_bytes(), content_type)

    async def serve(self, bridge: Bridge, stop: asyncio.Future) -> None:
        """Serve until `stop` is done; then close every connection (and so every session)."""
        self.bridge = bridge
        server = self.config.server
        # No permessage-deflate: snapshots are JPEGs already, and deflating 400 KB of
        # them cost ~30 ms per frame on each side for nothing.
        async with serve(self.handle, server.host, server.port, process_request=self.http,
                         max_size=server.close_over_bytes, compression=None) as ws_server:
            ports = sorted({s.getsockname()[1] for s in ws_server.sockets})
            log.info("eye page on http://%s:%s/ (websocket %s): open it in Chrome", server.host,
                     ports[0] if ports else server.port, WS_PATH)
            self.bound_port = ports[0] if ports else server.port
            await stop
            ws_server.close(close_connections=True)
            await ws_server.wait_closed()


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body)),
                       "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
    return Response(status.value, status.phrase, headers, body)
