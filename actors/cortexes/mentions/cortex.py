"""mentions: says "@alice mentioned you: …" when an X account is mentioned, unasked.

All cortexes watching one account share one MentionsPoller (one polling loop, one rate
limit); this cortex subscribes to it, renews the subscription, and speaks what it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.cortex import Cortex
from actors.cortexes.mentions.messages import NewMentions, Subscribe, Unsubscribe
from actors.cortexes.mentions.poller import SUBSCRIPTION_TTL_S, MentionsPoller, poller_name
from actors.params import bounded
from actors.specs import MentionsSettings


@dataclass(frozen=True)
class Renew:
    """Timer: renew the subscription to the account's poller before it lapses."""


RENEW = Renew()


class Mentions(Cortex, type_name="mentions"):
    emits = ("mention",)
    pushes = True

    @dataclass(frozen=True)
    class Params:
        user_id: str  # the numeric id of the X account whose mentions to announce
        bearer_token_env: str = "X_BEARER_TOKEN"  # the environment variable holding the token
        base_url: str = "https://api.x.com"
        poll_every_s: float = bounded(90.0, minimum=0.05)
        timeout_s: float = bounded(10.0, minimum=0.1, maximum=120.0)
        max_pages: int = bounded(5, minimum=1, maximum=50)
        max_backoff_s: float = bounded(900.0, minimum=1.0)
        state_dir: str = "data/mentions"
        #: on the very first poll of an account, announce what is already there?
        announce_backlog: bool = False

    def on_start(self) -> None:
        p = self.params
        if not p.user_id.isdigit():
            raise ValueError(f"user_id must be the account's numeric id, not {p.user_id!r}")
        self.subscription = Subscribe(
            MentionsSettings(
                p.user_id,
                p.base_url,
                p.bearer_token_env,
                p.poll_every_s,
                p.timeout_s,
                p.max_pages,
                p.state_dir,
                p.announce_backlog,
                p.max_backoff_s,
            )
        )
        self.poller = self.createActor(MentionsPoller, globalName=poller_name(p.user_id))
        self.send(self.poller, self.subscription)
        self.after(SUBSCRIPTION_TTL_S / 3, RENEW)

    def on_timer(self, payload: Any) -> None:
        if payload == RENEW:
            # Also re-finds the poller: if it exited (no subscribers for a moment), this makes a new one.
            self.poller = self.createActor(MentionsPoller, globalName=poller_name(self.params.user_id))
            self.send(self.poller, self.subscription)
            self.after(SUBSCRIPTION_TTL_S / 3, RENEW)

    def receiveMsg_NewMentions(self, message: NewMentions, sender) -> None:
        for mention in message.mentions:
            who = f"@{mention.username}" if mention.username else f"user {mention.author_id}"
            self.emit(
                "mention",
                f"{who} mentioned you: {mention.text}",
                {
                    "id": mention.id,
                    "author_id": mention.author_id,
                    "username": mention.username,
                    "created_at": mention.created_at,
                    "account": message.user_id,
                },
            )

    def on_stop(self) -> None:
        self.send(self.poller, Unsubscribe())
