"""POST /events: a door for any other sense (a door bell, a CI failure) to speak to eyes.

`{"text": "...", "to": "all" | "<session id>"}` with `Authorization: Bearer <token>`,
the token read from the environment variable named by `events.token_env`. It runs on
its own port (the websockets server answers GET only), by default on loopback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os

from aiohttp import web

from brain.config import Config
from brain.gateway import tls_context
from brain.protocol import has_lone_surrogate

__all__ = ["serve_events"]

log = logging.getLogger(__name__)


def _refuse(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


def make_app(config: Config, gateway) -> web.Application:
    settings = config.events
    token = os.environ.get(settings.token_env, "")

    async def post_event(request: web.Request) -> web.Response:
        if not token:
            return _refuse(
                503,
                f"Events are off: set the environment variable {settings.token_env} to a "
                "secret token and restart the brain.",
            )
        offered = request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return _refuse(401, "Send the events token as 'Authorization: Bearer <token>'.")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, 'The body must be JSON like {"text": "Someone is at the door", "to": "all"}.')
        if not isinstance(body, dict):
            return _refuse(400, 'The body must be a JSON object like {"text": "...", "to": "all"}.')
        text, to = body.get("text"), body.get("to", "all")
        if not isinstance(text, str) or not text.strip():
            return _refuse(400, '"text" must be a non-empty string.')
        if len(text) > settings.max_text_chars:
            return _refuse(
                400,
                f'"text" has {len(text)} characters; the limit is {settings.max_text_chars} (events.max_text_chars).',
            )
        if not isinstance(to, str) or not to:
            return _refuse(400, '"to" must be "all" or a session id.')
        if has_lone_surrogate(text) or has_lone_surrogate(to):
            # (one such event once closed every eye: no websocket can carry it)
            return _refuse(
                400,
                "The event holds invalid Unicode (a lone surrogate escape such as \\ud800); send real characters.",
            )
        delivered = gateway.push_event(text.strip(), to)
        if to != "all" and delivered == 0:
            return _refuse(404, f"No eye has the session id {to!r}; it may have disconnected.")
        return web.json_response({"delivered": delivered}, status=202)

    app = web.Application(client_max_size=settings.max_body_bytes)
    app.router.add_post("/events", post_event)
    return app


async def serve_events(config: Config, gateway, stop: asyncio.Future) -> None:
    settings = config.events
    if not settings.enabled:
        await stop
        return
    runner = web.AppRunner(make_app(config, gateway), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.port, ssl_context=tls_context(config.server.cert, config.server.key)
    )
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port
    log.info(
        "events endpoint on http://%s:%s/events%s",
        settings.host,
        port,
        "" if os.environ.get(settings.token_env) else f" (off until {settings.token_env} is set)",
    )
    try:
        await stop
    finally:
        await runner.cleanup()
