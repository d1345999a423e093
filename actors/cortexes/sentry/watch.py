"""When to raise an alert: once per appearance of an unknown person (pure, time passed in).

An appearance starts with a frame showing a person and ends when nobody has been seen for
`gone_after_s`. Within it, `confirm_frames` frames in a row with a person and no enrolled
face raise the alert, once; a recognised face in a frame breaks the run (the person is
known, or may be).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Watch"]


@dataclass
class Watch:
    gone_after_s: float = 5.0
    confirm_frames: int = 2
    last_person: float = float("-inf")
    unknown_run: int = 0
    alerted: bool = False

    def see(self, now: float, person: bool, known: bool) -> bool:
        """One frame: whether to raise the alert now."""
        if not person:
            if now - self.last_person > self.gone_after_s:
                self.alerted, self.unknown_run = False, 0  # the appearance is over
            return False
        if now - self.last_person > self.gone_after_s:
            self.alerted, self.unknown_run = False, 0  # a new appearance
        self.last_person = now
        self.unknown_run = 0 if known else self.unknown_run + 1
        if self.alerted or self.unknown_run < self.confirm_frames:
            return False
        self.alerted = True
        return True
