"""The alert snapshots on disk: one JPEG per alert, kept `keep_days`, then deleted.

<dir>/<YYYY-MM-DD>/<HHMMSS>-<eye>.jpg

Snapshots are of people: the directories are 0700 (actors/files.py), the files 0600 (the
brain's umask).
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from actors.files import private_dir, tighten

__all__ = ["keep", "purge"]


def keep(directory: str | Path, jpeg: bytes, eye: str, now: float | None = None) -> Path:
    when = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    day = private_dir(Path(directory) / when.strftime("%Y-%m-%d"))
    path = day / f"{when.strftime('%H%M%S')}-{re.sub(r'[^0-9A-Za-z-]', '', eye)[:40]}.jpg"
    path.write_bytes(jpeg)
    return path


def purge(directory: str | Path, keep_days: float, now: float | None = None) -> int:
    """Delete the days older than `keep_days`; how many files went. (Run as the sentry starts,
    it also closes a directory an older brain made 0755.)"""
    root = Path(directory)
    tighten(root)
    if not root.is_dir():
        return 0
    oldest = datetime.fromtimestamp(time.time() if now is None else now, UTC) - timedelta(days=keep_days)
    gone = 0
    for day in root.iterdir():
        try:
            date = datetime.strptime(day.name, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            continue  # not ours
        if date + timedelta(days=1) <= oldest:
            gone += sum(1 for _ in day.glob("*.jpg"))
            shutil.rmtree(day)
    return gone
