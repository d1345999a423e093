"""An eye's name: the page gives one (/?eye=kitchen → /ws?eye=kitchen), or the brain names
it eye-<n>. Names go into MQTT topics and Home Assistant ids, so they are plain: lower-case
letters, digits, - and _ (pure: no sockets)."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

__all__ = ["Refused", "brain_named", "name_eye"]

_PLAIN = re.compile(r"[a-z0-9][a-z0-9_-]*")
_BRAINS = re.compile(r"eye-[0-9]+")  # what the brain names an eye its page did not name


def brain_named(name: str) -> bool:
    """Whether the brain gave this name (such an eye never comes back as itself)."""
    return bool(_BRAINS.fullmatch(name))


@dataclass(frozen=True)
class Refused:
    reason: str  # a sentence the page shows
    retry: bool  # the name is taken now, but may be free soon (a page reconnecting)


def name_eye(asked: str | None, number: int, taken: Container[str], max_chars: int) -> str | Refused:
    """The name of a new eye: `asked` (from its URL, any case) if it is plain and free; else,
    when none was asked, the first free eye-<n> from `number` on."""
    if asked is None or asked == "":
        while f"eye-{number}" in taken:
            number += 1
        return f"eye-{number}"
    name = asked.lower()
    if len(name) > max_chars or not _PLAIN.fullmatch(name):
        # (a websocket close reason holds 123 bytes: the page shows it whole)
        return Refused(f"Eye name refused: use up to {max_chars} letters, digits, - or _, like ?eye=kitchen.", False)
    if brain_named(name):
        return Refused(f"Names like {name} are the ones the brain gives; pick another ?eye= name.", False)
    if name in taken:
        return Refused(f"An eye named {name} is already connected: close that page or pick another ?eye= name.", True)
    return name
