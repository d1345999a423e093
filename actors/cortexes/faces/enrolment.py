"""Who may enrol or forget which name: pure rules, the faces cortex carries them out.

A face is known by the name it was enrolled under, so a name is held by a face: adding
views to a name needs that name's face in view (the last frame's face matches it) or the
faces admin token; otherwise any eye could, view by view, make another face greet as
someone enrolled (after `max_views` enrolments, that person is then unknown) and forget
them. A new name needs nobody's face; the number of people is capped (`max_people`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

__all__ = ["EnrolError", "check_name", "enrolled_as", "may_enroll", "may_forget", "to_forget"]

#: besides letters (of any script, with their combining marks) and digits
_ALLOWED_MARKS = frozenset(" -'.\u2019\u02bc\u2010\u2011")  # space, hyphens, apostrophes, full stop
_EXAMPLE = 'send {"command": "enroll", "name": "Olivier"}'


class EnrolError(ValueError):
    """An enrolment or removal that cannot be done; str() is a sentence for the person."""


def check_name(name: object, max_chars: int = 60) -> str:
    """The name, tidied (NFC, single spaces), or EnrolError saying what a name may be.

    A name is shown, spoken and stored (the store never makes a path of it: its files are
    named by a slug and a hash); so no invisible characters, which make one name look like
    another, no path separators or other symbols, and at least one letter ("." and ".."
    have none).
    """
    if not isinstance(name, str) or not name.strip():
        raise EnrolError(f"Say whose face this is: {_EXAMPLE}.")
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if len(name) > max_chars:
        raise EnrolError(f"That name is {len(name)} characters long; use at most {max_chars}.")
    # Invisible characters (bidi overrides such as U+202E, zero-width spaces, controls)
    # would make one name look like another when it is shown or spoken.
    hidden = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Cn")), None)
    if hidden is not None:
        raise EnrolError(
            f"That name holds an invisible character (U+{ord(hidden):04X}); type it again with visible characters only."
        )
    odd = next((c for c in name if not _allowed(c)), None)
    if odd is not None:
        raise EnrolError(
            "A name may hold letters of any script, digits, spaces, hyphens, apostrophes and full stops; "
            f'"{odd}" is none of these: type the name without it.'
        )
    if not any(unicodedata.category(c).startswith("L") for c in name):
        raise EnrolError(f'A name needs at least one letter, and "{name}" has none: {_EXAMPLE}.')
    return name


def _allowed(c: str) -> bool:
    category = unicodedata.category(c)
    return category[0] in "LM" or category == "Nd" or c in _ALLOWED_MARKS


def _same_name(name: str) -> str:
    """What every spelling of one name has in common: NFC, single spaces, casefolded (and
    NFC again: casefolding may decompose)."""
    tidied = " ".join(unicodedata.normalize("NFC", name).split())
    return unicodedata.normalize("NFC", tidied.casefold())


def enrolled_as(name: str, known: Collection[str]) -> str | None:
    """The enrolled name that `name` is, whatever its case ("eileen" is Eileen) or its
    Unicode form, on either side: an older brain stored names as they were typed, and
    "Zoe" + U+0308 (NFD) never matched "Zoë" (NFC), so another face could enrol under it."""
    same = _same_name(name)
    return next((k for k in known if _same_name(k) == same), None)


def to_forget(name: object, known: Collection[str], max_chars: int = 60) -> str:
    """The name a forget command means: the enrolled one it names (looked up first, as it
    was given: an older brain took names with characters check_name now refuses, and they
    must still be forgettable), else the checked name (which the store says it does not
    know), or EnrolError saying what a name may be. Who may forget is may_forget's to say."""
    if isinstance(name, str) and name.strip():
        held = enrolled_as(name, known)
        if held is not None:
            return held
    return check_name(name, max_chars)


def may_enroll(name: str, in_view: str | None, known: Collection[str], *, admin: bool, max_people: int) -> str:
    """The name to enrol the one face in view under (a known name as it was enrolled), or
    EnrolError saying why it may not be.

    `in_view` is the enrolled name that face matches (None: nobody), `known` every enrolled
    name, `admin` whether the command carried the faces admin token.
    """
    held = enrolled_as(name, known)
    if held is not None:
        if in_view == held or admin:
            return held  # more views of the same person
        raise EnrolError(
            f"{held} is already enrolled, and the face I see is not theirs: only {held} in front of the "
            "camera (or the faces admin token) can add to that name; enrol under your own name."
        )
    if len(known) >= max_people:  # a named limit, for the admin too: the operator raises it
        raise EnrolError(
            f"I already know as many people as I keep ({len(known)}, the faces cortex's max_people); "
            "forget someone first, or ask the operator to raise it."
        )
    return name


def may_forget(name: str, in_view: Collection[str | None], *, admin: bool) -> None:
    """Raise EnrolError unless `name` (enrolled) may be forgotten: their face is among those
    in view, or the command carried the faces admin token."""
    if admin or name in in_view:
        return
    raise EnrolError(
        f"I forget someone only while they are in front of the camera (or with the faces admin token): "
        f"I do not see {name} now."
    )
