"""The gallery's items: the pictures in one folder, each known by an id (its file's name
without the suffix). With no folder set, a handful of the photos scikit-image ships (an
installed package: `make run` has a gallery with nothing to download).

Pure but for reading the folder; the gallery cortex checks the page's item ids against it,
and the eye server serves /gallery/items from it.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ID", "DEFAULT_TITLES", "Item", "default_dir", "listing", "check_item"]

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
#: The default gallery: scikit-image's photos with nobody in them (a face on screen is not the
#: visitor's), with their titles.
DEFAULT_TITLES = {
    "coffee": "A cup of coffee",
    "chelsea": "Chelsea the cat",
    "rocket": "A rocket lifting off",
    "hubble_deep_field": "Galaxies, from Hubble",
    "motorcycle_left": "A motorcycle",
}


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    path: Path


def default_dir() -> Path:
    """scikit-image's data folder, found without importing the package."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return Path("skimage-is-not-installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def listing(folder: str, max_items: int, max_id_chars: int, max_item_bytes: int) -> list[Item]:
    """The items, sorted by id (the default's in its own order), at most `max_items`. A file
    whose name is no id (spaces, dots), or bigger than `max_item_bytes`, is left out."""
    directory = Path(folder) if folder else default_dir()
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() in SUFFIXES)
    except OSError:
        return []
    by_id = {}
    for path in files:
        if ID.fullmatch(path.stem) and len(path.stem) <= max_id_chars and path.stem not in by_id:
            try:
                if path.is_file() and path.stat().st_size <= max_item_bytes:
                    by_id[path.stem] = path
            except OSError:
                continue
    if not folder:
        return [Item(i, DEFAULT_TITLES[i], by_id[i]) for i in DEFAULT_TITLES if i in by_id][:max_items]
    return [Item(i, i.replace("_", " ").replace("-", " ").capitalize(), p) for i, p in by_id.items()][:max_items]


def check_item(value: object, items: list[Item], max_id_chars: int) -> str:
    """The item id of a `gallery.look`, or ValueError with the sentence for the eye."""
    if value is None:
        raise ValueError('gallery.look needs "item": the id of the picture on screen, such as "coffee".')
    if not isinstance(value, str) or not value.strip():
        raise ValueError('"item" must be a picture\'s id (a non-empty string, such as "coffee").')
    if len(value) > max_id_chars:
        raise ValueError(f'"item" is {len(value)} characters long; an id has at most {max_id_chars}.')
    if value not in {item.id for item in items}:
        known = ", ".join(item.id for item in items[:10]) + (", …" if len(items) > 10 else "")
        shown = value.encode("utf-8", "backslashreplace").decode("utf-8")
        raise ValueError(f"There is no item {shown!r} in this gallery (its items: {known or 'none'}).")
    return value
