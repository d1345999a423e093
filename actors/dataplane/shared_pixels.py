"""Frames handed between processes of one machine through memory, not a message.

A frame's pixels for the holder (nanodet 519 KB, centernet 786 KB, ~1.7 MB a frame on the
default topology) were pickled, signed and sent through thespian's TCP, then read back;
so was each snapshot's JPEG, once for every cortex that takes images. The sender now
writes them to an anonymous memory file (memfd) of its own and sends only a handle; the
receiver reads them through /proc/<pid>/fd/<n>, which only the brain's own user may open.

- pixels, cortex → holder: the cortex takes a file from its `Pool` for each request and
  gives it back once the answer came, to write the next pixels in: a new file costs
  ~200 µs for 519 KB (the kernel allocates and clears its pages), an old one ~30 µs
  (measured). One given up on is closed (a late holder then reads nothing, not newer
  pixels). A holder on another machine still gets the pixels in the message;
- a snapshot, gateway → an eye's cortexes: each cortex reads it as it arrives; the
  gateway keeps each eye's last `Kept.limit` files open (a cortex that far behind drops
  that frame).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Kept", "Pool", "SHARE_FROM_BYTES", "SharedPixels", "read", "read_bytes", "share", "share_bytes"]

#: What is at least this big (a snapshot's JPEG, a model's pixels) goes in a memory file;
#: anything smaller (a teach head's features, a thumbnail) in the message: sharing costs syscalls.
SHARE_FROM_BYTES = 16 * 1024
_NAME = "cortical-pixels"  # (what /proc/<pid>/fd/ shows of a memory file)


@dataclass(frozen=True)
class SharedPixels:
    pid: int  # the process holding the file open
    fd: int
    shape: tuple[int, ...]
    dtype: str
    inode: int = 0  # the file's: its fd number may since name another file (then: OSError)


def share(pixels: np.ndarray) -> SharedPixels | None:
    """Write `pixels` to a new memory file; None where that is not possible (then send them)."""
    if not hasattr(os, "memfd_create"):
        return None
    try:
        fd = os.memfd_create(_NAME, os.MFD_CLOEXEC)
    except OSError:  # (out of files)
        return None
    try:
        return _write(fd, pixels, os.fstat(fd).st_ino)
    except OSError:
        os.close(fd)
        return None


def _write(fd: int, pixels: np.ndarray, inode: int) -> SharedPixels:
    """`pixels` at the start of memory file `fd` (a bigger file from earlier pixels keeps
    its tail: the reader reads only these); OSError if they cannot be written."""
    pixels = np.ascontiguousarray(pixels)
    view = memoryview(pixels).cast("B")
    written = 0
    while written < len(view):
        written += os.pwrite(fd, view[written:], written)
    return SharedPixels(os.getpid(), fd, tuple(pixels.shape), pixels.dtype.str, inode)


def read(handle: SharedPixels) -> np.ndarray:
    """The pixels behind a handle (OSError if their cortex has closed it or ended)."""
    size = int(np.prod(handle.shape)) * np.dtype(handle.dtype).itemsize
    buffer = bytearray(size)
    fd = os.open(f"/proc/{handle.pid}/fd/{handle.fd}", os.O_RDONLY)
    try:
        if os.fstat(fd).st_ino != handle.inode:  # (closed, and the number given to a newer file)
            raise OSError("the shared pixels were closed and their number reused")
        got = os.preadv(fd, [buffer], 0)
    finally:
        os.close(fd)
    if got != size:
        raise OSError(f"the shared pixels were {got} bytes, not {size}")
    return np.frombuffer(buffer, handle.dtype).reshape(handle.shape)


def share_bytes(data: bytes) -> SharedPixels | None:
    return share(np.frombuffer(data, np.uint8))


def read_bytes(handle: SharedPixels) -> bytes:
    return read(handle).tobytes()


class Pool:
    """Memory files a sender writes pixels into again and again: one per request in flight,
    given back when its answer came; at most `idle_max` wait for the next request."""

    def __init__(self, idle_max: int):
        self.idle_max = idle_max
        self.idle: list[int] = []
        self.inodes: dict[int, int] = {}  # fd → its file's inode (the handle carries it)

    def share(self, pixels: np.ndarray) -> SharedPixels | None:
        """`pixels` in a file of the pool; None where that is not possible (then send them)."""
        if not hasattr(os, "memfd_create"):
            return None
        try:
            fd = self.idle.pop() if self.idle else self._new()
        except OSError:  # (out of files)
            return None
        try:
            return _write(fd, pixels, self.inodes[fd])
        except OSError:
            self._close(fd)
            return None

    def give_back(self, fd: int) -> None:
        if len(self.idle) < self.idle_max:
            self.idle.append(fd)
        else:
            self._close(fd)

    def discard(self, fd: int) -> None:
        """Close it: a late reader gets an error, not newer pixels."""
        self._close(fd)

    def close(self) -> None:
        while self.idle:
            self._close(self.idle.pop())

    def _new(self) -> int:
        fd = os.memfd_create(_NAME, os.MFD_CLOEXEC)
        self.inodes[fd] = os.fstat(fd).st_ino
        return fd

    def _close(self, fd: int) -> None:
        self.inodes.pop(fd, None)
        os.close(fd)


class Kept:
    """The memory files a sender keeps open for readers: the oldest is closed past `limit`."""

    def __init__(self, limit: int):
        self.limit = limit
        self.fds: list[int] = []

    def add(self, fd: int) -> None:
        self.fds.append(fd)
        while len(self.fds) > self.limit:
            os.close(self.fds.pop(0))

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())
