"""Files written whole or not at all, and directories for the brain's data alone.

The brain's data (teach samples and heads, enrolled faces, alert snapshots) is private:
`brain` sets the umask to 077, so what it writes is 0600/0700, and the directories are made
0700 here whatever the umask, with their missing parents; a data directory an older brain
made 0755 is tightened when its store starts (its files then need no change: nobody else
can reach them).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["PRIVATE_DIR", "private_dir", "tighten", "write_json_atomically"]

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700


def private_dir(path: str | Path) -> Path:
    """`path`, a directory; made (with its missing parents) for its owner alone."""
    path = Path(path)
    if not path.is_dir():
        if path.parent != path:
            private_dir(path.parent)
        try:
            path.mkdir(PRIVATE_DIR)
        except FileExistsError:
            pass  # (made meanwhile by another process: another eye's cortex)
    return path


def tighten(path: str | Path) -> None:
    """Close an existing data directory to everyone but its owner (0700), if it is wider."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode) and mode & 0o077:
            os.chmod(path, stat.S_IMODE(mode) & PRIVATE_DIR)
    except FileNotFoundError:
        pass  # (made 0700 when its first file is written)
    except PermissionError:
        log.warning("%s can be read by other users and is not ours to change: run `chmod 700 %s`", path, path)


def write_json_atomically(path: Path, value: Any) -> None:
    """Write `value` as JSON to a temporary file beside `path`, then rename it over `path`."""
    private_dir(path.parent)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as tmp:
        json.dump(value, tmp)
    os.replace(tmp.name, path)
