"""What the system says about a process of this machine (psutil)."""

from __future__ import annotations

import psutil

__all__ = ["cpu_seconds", "title"]

_NOT_RUNNING = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD, psutil.STATUS_STOPPED)


def cpu_seconds(pid: int) -> float | None:
    """CPU time the process has used, or None if it is gone, a zombie or stopped."""
    try:
        process = psutil.Process(pid)
        if process.status() in _NOT_RUNNING:
            return None
        times = process.cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def title(pid: int) -> str:
    """argv[0], which setproctitle makes "Class ActorAddr-…" for actor processes."""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return ""
    return cmdline[0] if cmdline else ""
