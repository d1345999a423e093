"""gallery: the favourite of a gallery visit (cortex.py); the pure scoring (visit.py) and the
items (items.py)."""

from actors.cortexes.gallery.cortex import Gallery

__all__ = ["Gallery"]
