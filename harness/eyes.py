"""An eye for tests and benchmarks: a websocket client speaking the eye protocol, and the
waits on what it is told (ready, a model ready on a host, a label), and a bare handshake."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import urllib.request
from collections.abc import Callable

from websockets.asyncio.client import connect as connect_async
from websockets.sync.client import ClientConnection, connect

from harness.waits import wait_until


class Eye:
    """A websocket client speaking the eye protocol."""

    def __init__(self, url: str, **kwargs):
        self._connecting = connect(url, **kwargs)
        self.ws: ClientConnection = self._connecting.__enter__()
        self.seen: list[dict] = []

    def recv(self, timeout: float = 10) -> dict:
        output = json.loads(self.ws.recv(timeout=timeout))
        self.seen.append(output)
        return output

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching output in {timeout}s; saw {self.seen[-5:]}")
            output = self.recv(remaining)
            if predicate(output):
                return output

    def seen_or_wait(self, predicate: Callable[[dict], bool], timeout: float = 10) -> dict:
        """An output already received that matches, or the next one that does."""
        for output in self.seen:
            if predicate(output):
                return output
        return self.wait_for(predicate, timeout)

    def wait_ready(self, timeout: float = 15) -> dict:
        return self.wait_for(lambda o: o["kind"] == "status" and o["data"].get("ready"), timeout)

    def send(self, message: str | bytes) -> None:
        self.ws.send(message)

    def ask(self, message: str | bytes, timeout: float = 10) -> dict:
        """Send, then return the next output that is not a status or tick."""
        self.ws.send(message)
        return self.wait_for(lambda o: o["kind"] not in ("status", "tick"), timeout)

    def close(self) -> None:
        self._connecting.__exit__(None, None, None)

    def __enter__(self) -> Eye:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ready_on(eye, host: str, timeout: float = 120) -> dict:
    return eye.wait_for(lambda o: o["data"].get("state") == "ready" and o["data"].get("host") == host, timeout)


def label_of(eye, frame: bytes, timeout: float = 60) -> dict:
    eye.send(frame)
    return eye.wait_for(lambda o: o["kind"] in ("label", "error") and o["cortex"] == "objects", timeout)


def ready_eye(brain, models: int = 1, name: str = ""):
    """An eye of `brain` (named `name`, if given), ready, once `models` of the brain's models
    are loaded: its first picture then meets a brain ready to serve it. (Its cortexes start
    at their first stimulus, so the eye is not told of the models before it sends one.)"""
    eye = brain.eye(name, max_size=None)
    eye.wait_ready(120)
    assert wait_until(lambda: len(ready_models(brain)) >= models, 180), f"fewer than {models} models loaded in 180 s"
    return eye


def _holders(brain, token: str = "") -> list[dict]:
    """The holders of `brain` (GET /brain/state; `token`: the eye token, where it wants one)."""
    query = f"?token={token}" if token else ""
    with urllib.request.urlopen(f"{brain.url}/brain/state{query}", timeout=5) as response:
        return json.load(response)["holders"]


async def eye_when_loaded(brain, models: set[str]):
    """An eye (websockets' asyncio client) once `models` are loaded and its Session is ready.
    The models are watched in the brain's state: an eye's cortexes start at its first
    stimulus, and only then tell it of their models."""
    assert wait_until(lambda: models <= ready_models(brain), 180), f"{models} not loaded in 180 s"
    ws = await connect_async(brain.ws_url, max_size=None)
    while True:
        output = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if output["kind"] == "status" and output["data"].get("ready"):
            return ws


def ready_models(brain) -> set[str]:
    """The models of `brain` whose holder is ready (GET /brain/state)."""
    return {model for holder in _holders(brain) if holder["state"] == "ready" for model in holder["models"]}


def every_model_ready(brain, token: str = "") -> bool:
    """Whether every holder of `brain` is ready (its models loaded)."""
    holders = _holders(brain, token)
    return bool(holders) and all(holder["state"] == "ready" for holder in holders)


def handshake_status(brain, host: str, path: str = "/ws") -> int:
    """The status of a websocket handshake (or page request) naming `host` as Host and Origin."""
    conn = http.client.HTTPConnection("127.0.0.1", brain.port, timeout=10)
    try:
        conn.request(
            "GET",
            path,
            headers={
                "Host": host,
                "Origin": f"http://{host}",
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        )
        return conn.getresponse().status
    finally:
        conn.close()
