"""Every HTTP path of the eye server and its guards: the eye page and its files (streamed,
a bounded number at once), the model files the page runs, the gallery's pictures, /health, /metrics and
/brain/state; the Host, Origin and token checks, also for the websocket's handshake.
Pure decisions (host_allowed, needs_token, token_given) are module functions."""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
import mimetypes
import os
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from actors.cortex import cortex_type
from actors.params import from_dict
from brain.config import ServerConfig
from brain.eye_socket import FileResponse

__all__ = [
    "Downloads",
    "HttpRoutes",
    "FRONTEND_DIR",
    "MODELS_DIR",
    "WS_PATH",
    "host_allowed",
    "needs_token",
    "token_given",
]

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
MODELS_DIR = FRONTEND_DIR.parent / "models"
#: The model files the page may fetch (/models/…): the same the holder runs, for the edge.
PAGE_MODELS = frozenset({"movenet-multipose.json", "movenet-multipose.bin", "blazeface.json", "blazeface.bin"})
WS_PATH = "/ws"


class HttpRoutes:
    """websockets' process_request: answers a request itself, or lets /ws through to the
    handshake. Reads the gateway's state (eyes, metrics, the live view); changes only the
    count of files being sent."""

    def __init__(self, gateway):  # (brain.gateway.Gateway, which imports this module)
        self.gateway = gateway
        server = gateway.config.server
        self.downloads = Downloads(server.max_downloads, server.max_downloads_per_client)
        self._state_cache: tuple[float, int, bytes] = (-1.0, -1, b"")  # (monotonic time, changes, JSON)

    def _origin_allowed(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: cross-site hijacking needs one
        allowed = self.gateway.config.server.allowed_origins
        if allowed:
            return origin in allowed
        host = request.headers.get("Host", "")
        return urlsplit(origin).netloc == host

    def _token_given(self, request: Request) -> bool:
        token = os.environ.get(self.gateway.config.server.token_env, "")
        return token_given(token, request.path, request.headers.get("Authorization", ""))

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        server = self.gateway.config.server
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
        if not host_allowed(host, self.gateway.config.server.allowed_hosts):
            # DNS rebinding: a hostile page whose name now resolves to this machine would
            # otherwise drive the brain (enrol or forget faces) as if it were its own page.
            self.gateway.metrics.refused.labels("host").inc()
            return _response(
                HTTPStatus.FORBIDDEN,
                f"This brain does not answer to the name {host!r}: open it by "
                "its address (such as http://127.0.0.1:8080/), or add the name to "
                "server.allowed_hosts.\n".encode(),
                "text/plain",
            )
        if path == WS_PATH:
            if not self._origin_allowed(request):
                self.gateway.metrics.refused.labels("origin").inc()
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
            healthy = self.gateway.actor_system_alive
            body = {
                "status": "ok" if healthy else "actor system down",
                "eyes": len(self.gateway.eyes),
                "connections_total": self.gateway.connections_total,
                "uptime_s": round(time.time() - self.gateway.started),
            }
            return _response(
                HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
                json.dumps(body).encode(),
                "application/json",
            )
        if path == "/brain/state":
            return self._brain_state(request)
        if path == "/metrics":
            return _response(HTTPStatus.OK, self.gateway.metrics.render(), "text/plain; version=0.0.4")
        if path.startswith("/models/") and path[len("/models/") :] in PAGE_MODELS:
            file = MODELS_DIR / path[len("/models/") :]
            if file.is_file():
                return self._file(connection, file, mimetypes.guess_type(file.name)[0] or "application/octet-stream")
        if path == "/gallery/items" or path.startswith("/gallery/items/"):
            return self._gallery(connection, path[len("/gallery/items/") :] if path != "/gallery/items" else None)
        name = {"/": "index.html", "/brain": "brain.html", "/gallery": "gallery.html"}.get(path, path.lstrip("/"))
        file = (FRONTEND_DIR / name).resolve()
        # Only files directly in frontend/: no "..", no hidden files, no directories.
        if file.parent != FRONTEND_DIR or name.startswith(".") or not _is_file(file):
            return _response(HTTPStatus.NOT_FOUND, b"Not found. The eye page is at /.\n", "text/plain")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return self._file(connection, file, content_type)

    def _file(self, connection: ServerConnection, file: Path, content_type: str) -> Response:
        """A file to stream (EyeSocket.send_file), or 503 while max_downloads are being
        sent, or max_downloads_per_client to this client's address."""
        try:
            size = file.stat().st_size
        except OSError:
            return _response(HTTPStatus.NOT_FOUND, b"Not found. The eye page is at /.\n", "text/plain")
        client = _address(connection)
        refusal = self.downloads.take(client)
        if refusal is not None:
            self.gateway.metrics.refused.labels(refusal.reason).inc()
            return _response(HTTPStatus.SERVICE_UNAVAILABLE, refusal.text.encode(), "text/plain", {"Retry-After": "1"})

        def done() -> None:
            self.downloads.give_back(client)

        headers = _headers(content_type, size)
        headers["Connection"] = "close"
        return FileResponse(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, path=file, done=done)

    def _gallery(self, connection: ServerConnection, item: str | None) -> Response:
        """The gallery cortex's pictures: the list (`item` None) as JSON, or one of them."""
        spec = next((c for c in self.gateway.config.cortexes if c.type == "gallery"), None)
        if spec is None:
            return _response(
                HTTPStatus.NOT_FOUND,
                b"This brain has no gallery: add a gallery cortex to its config (docs/cortexes.md).\n",
                "text/plain",
            )
        items = from_dict(cortex_type("gallery").Params, spec.params, "gallery").items()
        if item is None:
            body = {"items": [{"id": i.id, "title": i.title, "url": f"/gallery/items/{i.id}"} for i in items]}
            return _response(HTTPStatus.OK, json.dumps(body).encode(), "application/json")
        found = next((i for i in items if i.id == item), None)
        if found is None:
            return _response(
                HTTPStatus.NOT_FOUND, b"No such picture in this gallery; see /gallery/items.\n", "text/plain"
            )
        return self._file(
            connection, found.path, mimetypes.guess_type(found.path.name)[0] or "application/octet-stream"
        )

    def _brain_state(self, request: Request) -> Response:
        """The live view (docs/operations.md, "Look inside"): the eye's guards, and its token when one is set."""
        if not self._token_given(request):
            return _response(HTTPStatus.FORBIDDEN, b"Add ?token=... (the eye token) to see the brain.\n", "text/plain")
        if not self._origin_allowed(request):  # (True without an Origin: not a browser)
            return _response(
                HTTPStatus.FORBIDDEN, b"This page's origin may not read the brain's state.\n", "text/plain"
            )
        # Several pages and terminals may poll every second: one snapshot serves them all for
        # half a second (with 50 eyes it takes ~15 ms of the event loop to build), unless a
        # state changed (an eye came or left, a cortex restarted): that shows at once.
        now = time.monotonic()
        built, changes, body = self._state_cache
        if now - built > 0.5 or changes != self.gateway.view.changes:
            state = self.gateway.view.snapshot(now, _local_pss_mb(self.gateway.view.local_pids()))
            state["uptime_s"] = round(time.time() - self.gateway.started)
            state["home"] = self.gateway.home.view() if self.gateway.home is not None else None
            self._state_cache = (now, self.gateway.view.changes, json.dumps(state).encode())
        return _response(HTTPStatus.OK, self._state_cache[2], "application/json")


@dataclasses.dataclass(frozen=True)
class Refusal:
    reason: str  # the /metrics label
    text: str  # the sentence for the client


class Downloads:
    """The files being sent, in all and to each client address: which may start. A few
    clients that never read would otherwise hold every slot, and the page could not be
    loaded by anyone (no token is needed for it)."""

    def __init__(self, limit: int, per_client: int):
        self.limit, self.per_client = limit, per_client
        self.total = 0
        self.by_client: dict[str, int] = {}

    def take(self, client: str) -> Refusal | None:
        """Count one more file to `client`, or say why not (nothing is counted then)."""
        if self.total >= self.limit:
            return Refusal(
                "downloads",
                f"The brain is sending {self.limit} files already (server.max_downloads); try again in a moment.\n",
            )
        if self.by_client.get(client, 0) >= self.per_client:
            return Refusal(
                "downloads_per_client",
                f"The brain is sending {self.per_client} files to your address already "
                "(server.max_downloads_per_client); read or close those, then try again.\n",
            )
        self.total += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1
        return None

    def give_back(self, client: str) -> None:
        """A file to `client` is over, however it ended."""
        self.total -= 1
        left = self.by_client[client] - 1
        if left:
            self.by_client[client] = left
        else:
            del self.by_client[client]  # (addresses come and go: keep only those downloading)


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


def _address(connection: ServerConnection) -> str:
    """The client's IP address ("" for a transport without one)."""
    peer = connection.transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


def _is_file(path: Path) -> bool:
    """Path.is_file(), False for a name the file system refuses (too long: ENAMETOOLONG)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _local_pss_mb(pids: list[int]) -> dict[int, float]:
    """The proportional memory of this machine's holders (read when asked, not per frame)."""
    found = {}
    for pid in pids:
        try:
            found[pid] = round(psutil.Process(pid).memory_full_info().pss / 2**20, 1)
        except (psutil.Error, AttributeError):
            pass
    return found
