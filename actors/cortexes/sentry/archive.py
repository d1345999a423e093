"""The alert snapshots on disk: one JPEG per alert, kept `keep_days`, then deleted.

<dir>/<YYYY-MM-DD>/<HHMMSS>-<eye>.jpg
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["keep", "purge"]


def keep(directory: str | Path, jpeg: bytes, eye: str, now: float | None = None) -> Path:
    when = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    day = Path(directory) / when.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    path = day / f"{when.strftime('%H%M%S')}-{re.sub(r'[^0-9A-Za-z-]', '', eye)[:40]}.jpg"
    path.write_bytes(jpeg)
    return path


def purge(directory: str | Path, keep_days: float, now: float | None = None) -> int:
    """Delete the days older than `keep_days`; how many files went."""
    root = Path(directory)
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
