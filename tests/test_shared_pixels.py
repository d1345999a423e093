"""Pixels through a memory file (actors/dataplane/shared_pixels.py), read as a holder would."""

import os

import numpy as np
import pytest

from actors.dataplane.shared_pixels import Kept, Pool, read, read_bytes, share, share_bytes


def test_pixels_come_back_the_same_and_not_once_their_file_is_closed():
    pixels = np.random.default_rng(0).integers(0, 255, (416, 416, 3), dtype=np.uint8)
    handle = share(pixels)
    assert handle is not None and handle.pid == os.getpid()
    got = read(handle)
    assert got.dtype == np.uint8 and np.array_equal(got, pixels)
    assert np.array_equal(read(handle), pixels)  # (read again: nothing consumed)
    os.close(handle.fd)
    with pytest.raises(OSError):
        read(handle)


def test_a_handle_whose_number_now_names_a_newer_frame_is_refused_not_misread():
    stale = share(np.zeros((4, 4, 3), np.uint8))
    os.close(stale.fd)
    newer = share(np.ones((4, 4, 3), np.uint8))  # the same size: its bytes would read as the old frame
    try:
        assert newer.fd == stale.fd  # (POSIX gives the lowest free number: the one just closed)
        with pytest.raises(OSError, match="reused"):
            read(stale)
        assert read(newer).sum() == 48
    finally:
        os.close(newer.fd)


def test_a_sender_keeps_its_last_snapshots_readable_and_closes_older_ones():
    kept = Kept(2)
    handles = [share_bytes(bytes([n]) * 100) for n in range(3)]
    for handle in handles:
        kept.add(handle.fd)
    with pytest.raises(OSError):
        read_bytes(handles[0])  # the oldest: closed
    assert [read_bytes(h) for h in handles[1:]] == [bytes([1]) * 100, bytes([2]) * 100]
    kept.close()
    assert kept.fds == []


def test_a_pool_writes_each_request_into_a_file_given_back_and_keeps_few():
    rng = np.random.default_rng(1)
    big, small = rng.integers(0, 255, (416, 416, 3), np.uint8), rng.integers(0, 255, (192, 192, 3), np.uint8)
    pool = Pool(idle_max=1)
    first = pool.share(big)
    assert np.array_equal(read(first), big)
    pool.give_back(first.fd)
    again = pool.share(small)  # the same file, written anew: only these pixels are read
    assert again.fd == first.fd and np.array_equal(read(again), small)
    other = pool.share(big)  # (one in flight already: a new file)
    assert other.fd != again.fd and np.array_equal(read(again), small)
    pool.give_back(again.fd)
    pool.give_back(other.fd)  # over idle_max: closed
    with pytest.raises(OSError):
        read(other)
    late = pool.share(big)
    pool.discard(late.fd)  # (given up on: a late reader gets an error, not newer pixels)
    with pytest.raises(OSError):
        read(late)
    idle = pool.share(small)
    pool.give_back(idle.fd)
    pool.close()  # (the cortex ends)
    with pytest.raises(OSError):
        read(idle)
