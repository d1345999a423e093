"""A bounded queue of encoded messages waiting to be written (pure: no sockets, no clock):
an eye's outputs (UTF-8 JSON, sent as text frames), or what waits for the MQTT broker."""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Outbox"]


class Outbox:
    """Holds at most `max_items` items and `max_bytes` of memory (as `size` counts it); when a
    new item does not fit, the oldest ones are dropped (an eye wants the latest labels, not old
    ones)."""

    def __init__(self, max_items: int, max_bytes: int, size: Callable[[Any], int] = sys.getsizeof):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.size = size
        self._items: collections.deque[tuple[Any, int]] = collections.deque()
        self.bytes = 0  # the memory its items hold

    def fits(self, item: Any) -> bool:
        """Whether `item` could be queued at all (alone in an empty queue)."""
        return self.size(item) <= self.max_bytes

    def put(self, item: Any) -> int:
        """Queue `item` (it must fit); return how many older items were dropped for it."""
        size = self.size(item)
        if size > self.max_bytes:
            raise ValueError(f"an item of {size} bytes never fits in {self.max_bytes}")
        dropped = 0
        while self._items and (len(self._items) >= self.max_items or self.bytes + size > self.max_bytes):
            self.pop()
            dropped += 1
        self._items.append((item, size))
        self.bytes += size
        return dropped

    def pop(self) -> Any:
        item, size = self._items.popleft()
        self.bytes -= size
        return item

    def __len__(self) -> int:
        return len(self._items)
