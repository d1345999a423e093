"""The eye's outbound queue, bounded by count and bytes (pure)."""

import sys

import pytest

from brain.outbox import Outbox


def test_the_oldest_go_first_when_the_count_is_reached():
    box = Outbox(max_items=2, max_bytes=10_000)
    assert [box.put(t) for t in ("a", "b", "c")] == [0, 0, 1]
    assert [box.pop(), box.pop()] == ["b", "c"]
    assert len(box) == 0 and box.bytes == 0


def test_bytes_bound_the_queue_whatever_the_count():
    one = sys.getsizeof("x" * 1000)
    box = Outbox(max_items=1000, max_bytes=3 * one)
    dropped = sum(box.put(str(i % 10) * 1000) for i in range(10))
    assert dropped == 7 and len(box) == 3 and box.bytes == 3 * one
    assert box.pop() == "7" * 1000


def test_wide_characters_count_as_the_memory_they_hold():
    box = Outbox(max_items=10, max_bytes=sys.getsizeof("é" * 10))
    assert box.fits("é" * 10) and not box.fits("\U0001f600" * 10)  # 4 bytes a character


def test_a_text_that_can_never_fit_is_refused_and_nothing_is_lost():
    box = Outbox(max_items=10, max_bytes=200)
    box.put("small")
    assert not box.fits("x" * 1000)
    with pytest.raises(ValueError):
        box.put("x" * 1000)
    assert box.pop() == "small"
