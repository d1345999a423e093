"""How the probes print what they tried: one markdown table per part, as the notes quote them."""

from __future__ import annotations

__all__ = ["table"]


def table(head: tuple[str, ...], rows: list[tuple]) -> None:
    """Print `rows` under `head` as a markdown table; True and False read "yes" and "NO"."""
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join("yes" if c is True else "NO" if c is False else str(c) for c in row) + " |")
    print()
