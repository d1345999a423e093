"""Between the mentions cortexes and the one poller per X account that feeds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (the config's results, in actors/specs.py)
    from actors.specs import MentionsSettings

__all__ = [
    "Subscribe",
    "Unsubscribe",
    "Mention",
    "NewMentions",
]


@dataclass(frozen=True)
class Subscribe:
    """Cortex → poller (also sent again now and then: subscriptions not renewed expire)."""

    settings: MentionsSettings


@dataclass(frozen=True)
class Unsubscribe:
    pass


@dataclass(frozen=True)
class Mention:
    id: str
    text: str
    author_id: str
    username: str
    created_at: str


@dataclass(frozen=True)
class NewMentions:
    """Poller → each subscribed cortex: mentions not seen before, oldest first."""

    user_id: str
    mentions: tuple[Mention, ...]
