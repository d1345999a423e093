"""Import once, before the forks, what every actor process would otherwise import alone.

thespian forks each actor from its parent (the admin from the brain's process, sessions
from the supervisor, cortexes from their session). A module imported after a fork is
private to that process: every session and cortex paid for numpy, Pillow, aiohttp and
our own modules again (measured with `python -m bench.memory`: 85 MB per eye). Imported
here, in the brain's process before the actor system starts, their pages are shared by
all. `gc.freeze()` then moves every object that exists into a generation the collector
never scans, so collections in the children do not write to (and so copy) those pages.

TensorFlow is not imported here: only the model holder and a training teach project use
it, and importing it would start threads before the actor system forks its admin.
"""

from __future__ import annotations

import gc
import importlib

__all__ = ["preload", "before_fork"]

MODULES = (
    "numpy",
    "PIL.Image",
    "actors.cortexes",  # every cortex type (and what they import: aiohttp, …)
    "actors.sessions.session",
    "actors.sessions.supervisor",
    "actors.sessions.reflector",
    "actors.models.directory",
    "actors.models.holder",
    "actors.models.host_beacon",
)


# glibc mallopt() parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8


def tune_malloc(mmap_threshold: int = 128 * 1024, trim_threshold: int = 256 * 1024, arenas: int = 2) -> None:
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
    libc.mallopt(M_ARENA_MAX, arenas)


def preload() -> None:
    tune_malloc()
    for name in MODULES:
        importlib.import_module(name)
    from PIL import Image

    Image.init()  # (Pillow imports its format plugins on first use otherwise)
    gc.freeze()


def before_fork() -> None:
    """Call in an actor right before it creates a child: what this process built since
    its own fork is frozen too, so the child's collections leave those pages shared."""
    gc.freeze()
