"""What /proc says about a process of this machine."""

from __future__ import annotations

from pathlib import Path

__all__ = ["cpu_ticks", "title"]


def cpu_ticks(pid: int) -> int | None:
    """CPU time the process has used (clock ticks), or None if it is gone, a zombie or stopped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X", "T", "t"):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def title(pid: int) -> str:
    """argv[0], which setproctitle makes "Class ActorAddr-…" for actor processes."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return ""
