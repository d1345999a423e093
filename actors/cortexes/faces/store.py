"""Enrolled faces, persisted on disk: one JSON file per person, written atomically.

Several sessions share one store directory; each notices the others' changes by the
directory's modification time, so an enrolment in one eye is known to all.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from actors.cortexes.faces.enrolment import EnrolError, check_name
from actors.files import tighten, write_json_atomically
from actors.models.faces import cosine

__all__ = ["FaceStore", "EnrolError"]


def _file_name(name: str) -> str:
    # Readable, but never a path, whatever the name: ASCII letters and digits only (a name
    # in another script becomes "face"), plus a hash of the whole name for uniqueness
    # ("Ada Lovelace" and "Ada-Lovelace", "Ada" and "ADA" get two files).
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "face"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:10]}.json"


class FaceStore:
    def __init__(self, directory: str | Path, max_views: int = 10, max_name_chars: int = 60):
        self.directory = Path(directory)
        tighten(self.directory)  # (file names say who is enrolled: the directory is 0700)
        self.max_views = max_views
        self.max_name_chars = max_name_chars
        self._people: dict[str, np.ndarray] = {}  # name → [views, 1024]
        self._seen_mtime: float | None = None

    def refresh(self) -> None:
        """Re-read the directory if anything changed since the last read."""
        try:
            mtime = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            self._people, self._seen_mtime = {}, None
            return
        if mtime == self._seen_mtime:
            return
        people = {}
        for file in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(file.read_text(encoding="utf-8"))
                people[record["name"]] = np.asarray(record["embeddings"], dtype=np.float32)
            except (OSError, ValueError, KeyError):
                continue  # a half-written or foreign file: skip it, keep the rest
        self._people, self._seen_mtime = people, mtime

    @property
    def names(self) -> list[str]:
        self.refresh()
        return sorted(self._people)

    def match(self, embedding: np.ndarray) -> tuple[str | None, float]:
        """The best-matching enrolled name and its cosine similarity (None if nobody is enrolled)."""
        self.refresh()
        best, best_score = None, -1.0
        for name, views in self._people.items():
            score = max(cosine(embedding, view) for view in views)
            if score > best_score:
                best, best_score = name, score
        return best, best_score

    def enroll(self, name: str, embedding: np.ndarray) -> int:
        """Add a view of `name`'s face; return how many views are now stored. Who may is the
        caller's to decide (enrolment.may_enroll); the name is checked here too, so no
        file is ever written for an unchecked one."""
        name = check_name(name, self.max_name_chars)
        self.refresh()
        views = list(self._people.get(name, np.zeros((0, embedding.shape[0]), np.float32)))
        views = (views + [embedding.astype(np.float32)])[-self.max_views :]
        record = {"name": name, "enrolled": time.time(), "embeddings": [v.tolist() for v in views]}
        write_json_atomically(self.directory / _file_name(name), record)
        self._people[name] = np.asarray(views, dtype=np.float32)
        return len(views)

    def names_of(self, embeddings: Iterable[np.ndarray], threshold: float) -> list[str | None]:
        """Who each of these faces is: the best match at `threshold` or above, else None."""
        return [name if score >= threshold else None for name, score in map(self.match, embeddings)]

    def forget(self, name: str) -> None:
        self.refresh()
        if name not in self._people:
            # (without the list of who is known: that is the `faces` command's to tell)
            raise EnrolError(f"I do not know {name!r}.")
        (self.directory / _file_name(name)).unlink(missing_ok=True)
        del self._people[name]
