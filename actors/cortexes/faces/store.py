"""Enrolled faces, persisted on disk: one JSON file per person, written atomically.

Several sessions share one store directory; each notices the others' changes by the
directory's modification time, so an enrolment in one eye is known to all.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from pathlib import Path

import numpy as np

from actors.files import write_json_atomically
from actors.models.faces import cosine

__all__ = ["FaceStore", "EnrolError"]


class EnrolError(ValueError):
    """An enrolment or removal that cannot be done; str() is a sentence for the person."""


def _file_name(name: str) -> str:
    # Readable, but never a path: letters and digits only, plus a hash for uniqueness.
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "face"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:10]}.json"


class FaceStore:
    def __init__(self, directory: str | Path, max_views: int = 10, max_name_chars: int = 60):
        self.directory = Path(directory)
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

    def clean_name(self, name: object) -> str:
        if not isinstance(name, str) or not name.strip():
            raise EnrolError('Say whose face this is: send {"command": "enroll", "name": "Olivier"}.')
        name = " ".join(name.split())
        if len(name) > self.max_name_chars:
            raise EnrolError(f"That name is {len(name)} characters long; use at most {self.max_name_chars}.")
        # Invisible characters (bidi overrides such as U+202E, zero-width spaces, controls)
        # would make one name look like another when it is shown or spoken.
        hidden = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Cn")), None)
        if hidden is not None:
            raise EnrolError(
                f"That name holds an invisible character (U+{ord(hidden):04X}); type it again "
                "with visible characters only."
            )
        return name

    def enroll(self, name: str, embedding: np.ndarray) -> int:
        """Add a view of `name`'s face; return how many views are now stored."""
        self.refresh()
        views = list(self._people.get(name, np.zeros((0, embedding.shape[0]), np.float32)))
        views = (views + [embedding.astype(np.float32)])[-self.max_views :]
        record = {"name": name, "enrolled": time.time(), "embeddings": [v.tolist() for v in views]}
        write_json_atomically(self.directory / _file_name(name), record)
        self._people[name] = np.asarray(views, dtype=np.float32)
        return len(views)

    def shows(self, name: str, embeddings, threshold: float) -> bool:
        """Whether one of these faces is `name`'s: the best match, at `threshold` or above."""
        return any(
            match == name and score >= threshold for match, score in (self.match(embedding) for embedding in embeddings)
        )

    def forget(self, name: str) -> None:
        self.refresh()
        if name not in self._people:
            # (without the list of who is known: that is the `faces` command's to tell)
            raise EnrolError(f"I do not know {name!r}.")
        (self.directory / _file_name(name)).unlink(missing_ok=True)
        del self._people[name]
