"""An eye's outbound queue: encoded outputs (UTF-8 JSON, sent as text frames) waiting to
be written, bounded by count and by bytes (pure: no sockets, no clock)."""

from __future__ import annotations

import collections
import sys

__all__ = ["Outbox"]


class Outbox:
    """Holds at most `max_items` texts and `max_bytes` of memory; when a new text does not
    fit, the oldest ones are dropped (an eye wants the latest labels, not old ones)."""

    def __init__(self, max_items: int, max_bytes: int):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._texts: collections.deque[tuple[bytes, int]] = collections.deque()
        self.bytes = 0  # the memory its texts hold (sys.getsizeof)

    def fits(self, text: bytes) -> bool:
        """Whether `text` could be queued at all (alone in an empty queue)."""
        return sys.getsizeof(text) <= self.max_bytes

    def put(self, text: bytes) -> int:
        """Queue `text` (it must fit); return how many older texts were dropped for it."""
        size = sys.getsizeof(text)
        if size > self.max_bytes:
            raise ValueError(f"a text of {size} bytes never fits in {self.max_bytes}")
        dropped = 0
        while self._texts and (len(self._texts) >= self.max_items or self.bytes + size > self.max_bytes):
            self.pop()
            dropped += 1
        self._texts.append((text, size))
        self.bytes += size
        return dropped

    def pop(self) -> bytes:
        text, size = self._texts.popleft()
        self.bytes -= size
        return text

    def __len__(self) -> int:
        return len(self._texts)
