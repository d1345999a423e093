"""Each named constant of the brain (actors/, brain/) is defined in one module: two copies
of a size or a timeout drift apart (SHARE_FROM_BYTES and ACCEPT_AGAIN_S each had two).
Pure: reads the source."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def constants(path: Path) -> set[str]:
    """The UPPER_CASE names a module assigns at its top level."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names |= {t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()}
    return names


def test_each_named_constant_is_defined_once():
    where = defaultdict(list)
    for package in ("actors", "brain"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in constants(path):
                where[name].append(str(path.relative_to(ROOT)))
    twice = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not twice, f"define each once and import it: {twice}"
