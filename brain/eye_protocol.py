"""One eye's connection rules as a state machine: no sockets, no clock, no actors.

The gateway feeds it what happens (`start`, `receive(message, now)`, `tick(now)`,
`queue(output)`, `sending`/`sent`) and carries out the actions it returns: forward a
stimulus to the Session, answer the eye, count for /metrics, or close. So the token,
the rate caps and their notice, parsing, idleness, the outbound queue and the bytes on
their way to the actors are all decided here, and tested in milliseconds.
"""

from __future__ import annotations

import enum
import hmac
import json
from dataclasses import dataclass

from actors.messages import Output, Stimulus
from brain.config import ServerConfig
from brain.limits import TokenBucket
from brain.outbox import Outbox
from brain.protocol import ProtocolError, brain_error, encode_output, is_frame, parse_message

__all__ = ["Phase", "Forward", "Reply", "Close", "Counted", "EyeProtocol", "TOKEN_WAIT_S", "TOO_FAST_EVERY_S"]

TOKEN_WAIT_S = 10.0  # how long an eye may take to send its token as a first message
TOO_FAST_EVERY_S = 5.0  # say "too fast" at most this often per eye


class Phase(enum.Enum):
    AWAITING_TOKEN = "awaiting token"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Forward:
    """Send this stimulus to the eye's Session (`size` bytes of the eye's message)."""

    stimulus: Stimulus
    size: int


@dataclass(frozen=True)
class Reply:
    """An output for the eye (already in the outbound queue)."""

    output: Output


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True)
class Counted:
    """Add `n` to the /metrics counter `metric` (an attribute of Metrics) under `label`."""

    metric: str
    label: str
    n: int = 1


Action = Forward | Reply | Close | Counted


class EyeProtocol:
    def __init__(self, server: ServerConfig, now: float, token: str = "", commands: frozenset[str] | None = None):
        self.server = server
        self.token = token
        self.commands = commands
        self.phase = Phase.AWAITING_TOKEN if token else Phase.OPEN
        self.frames = TokenBucket(server.max_frames_per_s, 2 * server.max_frames_per_s, now)
        self.messages = TokenBucket(server.max_messages_per_s, 2 * server.max_messages_per_s, now)
        self.told_too_fast = -TOO_FAST_EVERY_S
        self.last_heard = now
        self.outbox = Outbox(server.outbound_queue, server.outbound_queue_bytes)
        self.inflight = 0  # bytes forwarded to the actors and not yet delivered

    # -- the eye's side ------------------------------------------------------------------

    def start(self, query_token: str, now: float) -> list[Action]:
        """The connection is open; `query_token` is ?token= of its URL ("" if none)."""
        self.last_heard = now
        if self.phase is Phase.AWAITING_TOKEN and query_token:
            return self._check_token(query_token)
        return []

    def receive(self, message: str | bytes, now: float) -> list[Action]:
        self.last_heard = now
        if self.phase is Phase.AWAITING_TOKEN:
            return self._check_token(_token_in(message))
        if self.phase is Phase.CLOSED:
            return []
        frame = is_frame(message)
        if not (self.frames if frame else self.messages).allow(now):
            actions: list[Action] = [Counted("dropped", "rate_limit")]
            if now - self.told_too_fast >= TOO_FAST_EVERY_S:
                self.told_too_fast = now
                limit = (
                    f"{self.server.max_frames_per_s:g} snapshots"
                    if frame
                    else f"{self.server.max_messages_per_s:g} messages"
                )
                actions += self.reply(
                    brain_error(f"You are sending more than {limit} a second; the extra ones were dropped. Slow down.")
                )
            return actions
        try:
            stimulus = parse_message(
                message,
                self.server.max_message_bytes,
                self.server.max_json_depth,
                self.commands,
                self.server.max_number,
                self.server.max_image_pixels,
            )
        except ProtocolError as exc:
            return [Counted("messages_in", "invalid"), *self.reply(brain_error(str(exc)))]
        self.inflight += len(message)
        return [Counted("messages_in", stimulus.kind), Forward(stimulus, len(message))]

    def deadline(self) -> float:
        """When `tick` must be called if the eye sends nothing before."""
        wait = TOKEN_WAIT_S if self.phase is Phase.AWAITING_TOKEN else self.server.idle_timeout_s
        return self.last_heard + wait

    def tick(self, now: float) -> list[Action]:
        if self.phase is Phase.CLOSED or now < self.deadline():
            return []
        if self.phase is Phase.AWAITING_TOKEN:
            return self._check_token("")
        self.phase = Phase.CLOSED
        return [Close(1000, f"Idle for {self.server.idle_timeout_s:g} s; reconnect to go on.")]

    def _check_token(self, offered: str) -> list[Action]:
        # (a lone surrogate, "\ud800", has no UTF-8: encode() raised, and the eye was closed
        # with 1011 and a traceback; surrogatepass gives it bytes no real token has)
        if hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), self.token.encode("utf-8", "surrogatepass")):
            self.phase = Phase.OPEN
            return []
        self.phase = Phase.CLOSED
        return [
            Counted("refused", "token"),
            Close(1008, "Missing or wrong token: open the page with ?token=… as given to you."),
        ]

    # -- the bytes on their way to the actors ------------------------------------------------

    def sent(self, size: int) -> None:
        """A forwarded message of `size` bytes reached its Session."""
        self.inflight -= size

    def reading(self) -> bool:
        """Whether to read the next message (beyond max_inflight_bytes TCP slows the eye down)."""
        return self.inflight <= self.server.max_inflight_bytes

    # -- outputs -----------------------------------------------------------------------------

    def reply(self, output: Output) -> list[Action]:
        """Queue an output for the eye, encoded here once for all (the writer only sends
        bytes); returns what it cost (outputs dropped to make room)."""
        try:
            text = encode_output(output)
        except UnicodeEncodeError:  # a websocket would fail on it, and close the eye
            text = encode_output(
                brain_error(
                    f"The {output.cortex} cortex sent text with invalid Unicode (a lone surrogate such as "
                    "\\ud800), which no websocket can carry; it was dropped."
                )
            )
        except (TypeError, ValueError) as exc:  # never let one output end the eye
            text = encode_output(
                brain_error(
                    f"The {output.cortex} cortex sent something that could not be "
                    f"encoded ({type(exc).__name__}); it was dropped."
                )
            )
        dropped = 0
        if not self.outbox.fits(text):
            dropped = 1
            text = encode_output(
                brain_error(
                    f"An output of the {output.cortex} cortex was too big to send ({len(text) / 1e6:.1f} MB, over "
                    "server.outbound_queue_bytes); it was dropped."
                )
            )
        dropped += self.outbox.put(text)
        return [Reply(output), *([Counted("dropped", "slow_eye", dropped)] if dropped else [])]


def _token_in(message: str | bytes) -> str:
    """The token of a first message {"token": "…"}, or ""."""
    if not isinstance(message, str):
        return ""
    try:
        token = json.loads(message).get("token", "")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return token if isinstance(token, str) else ""
