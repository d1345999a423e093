"""The connection class of the eye server: websockets' ServerConnection with pings
answered at a sane rate, its opening bounded in time, and files streamed as the client
reads them, within their own deadline."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import SERVER, Response
from websockets.protocol import OPEN

from brain.limits import TokenBucket

__all__ = ["FileResponse", "eye_socket_class"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class FileResponse(Response):
    """A file to send: the status and headers are the response's, the body is read from
    `path` as the client takes it; `done` is called once it is over, however it ended."""

    path: Path | None = None
    done: Callable[[], None] = lambda: None


def eye_socket_class(
    max_pings_per_s: float, open_timeout_s: float, download_timeout_s: float
) -> type[ServerConnection]:
    """websockets' ServerConnection, answering pings at a sane rate only: websockets pongs
    every ping by itself, and a flood of them (858,600 in 10 s) cost 7.5 CPU-seconds.
    Browsers never send pings; a client that floods them is closed (1008, the reason).

    It also streams files: websockets writes a response's whole body into the transport
    at once, where it stays, copied, until the client reads it. 200 downloads of a 4.6 MB
    model that nobody read took the gateway from 66 to 1,309 MB.

    The opening (the request, then the websocket's handshake) must be over within
    `open_timeout_s`, a file sent within `download_timeout_s`. websockets' own opening
    timeout must be off (serve(open_timeout=None)): it wraps this whole method, so it cut
    every file still being sent after 10 s (a client reading the 4.65 MB pose model at
    100 kB/s got 2.8 MB of it, and a retry starts over)."""

    class EyeSocket(ServerConnection):
        pings: TokenBucket | None = None

        async def handshake(self, process_request=None, process_response=None, server_header=SERVER) -> None:
            # (a TimeoutError ends the connection: websockets aborts it, as on its own timeout)
            opened_by = self.loop.time() + open_timeout_s
            async with asyncio.timeout_at(opened_by):
                await asyncio.wait(
                    [self.request_rcvd, self.connection_lost_waiter], return_when=asyncio.FIRST_COMPLETED
                )
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
            async with asyncio.timeout_at(opened_by):
                await super().handshake(process_request, process_response, server_header)

        async def send_file(self, response: FileResponse) -> None:
            """The headers, then the file by sendfile() (TLS: in chunks), each part only as
            the socket takes it: the gateway holds no copy however slowly the client reads.
            It must be over within download_timeout_s, or the connection is cut."""
            try:
                async with asyncio.timeout(download_timeout_s):
                    with open(response.path, "rb") as file:
                        self.transport.write(response.serialize())  # (its body is empty)
                        await self.loop.sendfile(self.transport, file)
                    self.transport.close()  # once what is buffered has gone (TLS: then its close_notify)
                    await asyncio.shield(self.connection_lost_waiter)
            except (TimeoutError, OSError, RuntimeError):  # too slow; the client left; the transport closed under us
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
