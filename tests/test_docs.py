"""docs/config.md and the config classes say the same: every field has a row, every row a
field, with the code's default and allowed range. Pure: reads files and dataclasses."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

import actors.cortexes  # noqa: F401  (registers the built-in cortex types)
from actors.cortex import REGISTRY, cortex_type
from brain.config import _SECTIONS, _CortexStanza, _ModelStanza

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DOC = ROOT / "docs" / "config.md"
ROW = re.compile(r"^\| `([^`]+)` \|([^|]*)\|([^|]*)\|")


def documented() -> dict[str, tuple[str, str]]:
    """key → (default cell, allowed cell), from every table row whose first cell is a key."""
    rows: dict[str, tuple[str, str]] = {}
    for line in CONFIG_DOC.read_text().splitlines():
        if match := ROW.match(line):
            key, default, allowed = match.group(1), match.group(2).strip(), match.group(3).strip()
            assert key not in rows, f"docs/config.md documents {key} twice"
            rows[key] = (default, allowed)
    return rows


def config_fields() -> dict[str, dataclasses.Field]:
    fields: dict[str, dataclasses.Field] = {}
    for section, cls in _SECTIONS.items():
        fields.update({f"{section}.{f.name}": f for f in dataclasses.fields(cls)})
    for stanza, cls in (("[[model]]", _ModelStanza), ("[[cortex]]", _CortexStanza)):
        fields.update({f"{stanza} {f.name}": f for f in dataclasses.fields(cls)})
    for type_name in REGISTRY:
        params = getattr(cortex_type(type_name), "Params", None)
        if params is not None:
            fields.update({f"{type_name}.{f.name}": f for f in dataclasses.fields(params)})
    return fields


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def allowed_text(field: dataclasses.Field) -> str:
    """The field's range as the docs write it: `0–65535`, `≥ 1024`, `≤ 5` or the choices."""
    meta = field.metadata
    if "choices" in meta:
        return ", ".join(_literal(choice) for choice in meta["choices"])
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and high is not None:
        return f"{_literal(low)}–{_literal(high)}"
    if low is not None:
        return f"≥ {_literal(low)}"
    if high is not None:
        return f"≤ {_literal(high)}"
    return ""


def default_of(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def test_every_config_field_is_documented_and_every_documented_key_exists():
    fields, rows = config_fields(), documented()
    assert not sorted(set(fields) - set(rows)), "fields with no row in docs/config.md"
    assert not sorted(set(rows) - set(fields)), "rows in docs/config.md for keys the config does not have"


@pytest.mark.parametrize("key", sorted(config_fields()))
def test_the_documented_default_and_range_are_the_codes(key):
    field = config_fields()[key]
    default_cell, allowed_cell = documented()[key]
    assert allowed_cell == allowed_text(field), f"{key}: docs/config.md says allowed {allowed_cell!r}"
    default = default_of(field)
    if default is dataclasses.MISSING:
        assert default_cell == "required", f"{key} has no default: docs/config.md must say 'required'"
        return
    literal = re.match(r"`([^`]*)`", default_cell)
    if literal is None:  # a long default described in words (voice's built-in commands)
        assert isinstance(default, list | tuple | dict) and default, f"{key}: write its default as `literal`"
        return
    written = tomllib.loads(f"value = {literal.group(1)}")["value"]
    if isinstance(default, tuple):
        default = list(default)
    assert written == default, f"{key}: docs/config.md says {written!r}, the code {default!r}"


def test_a_row_that_drifts_from_the_code_is_caught():
    # The check above must be able to fail: a wrong default and a missing range are seen.
    field = config_fields()["server.port"]
    assert allowed_text(field) == "0–65535" != ""
    assert tomllib.loads("value = 8081")["value"] != default_of(field)
