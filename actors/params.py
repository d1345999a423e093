"""Build a frozen dataclass from a plain dict (a TOML table), checking names and types.

Used for every config section and every cortex's parameters, so that a mistake in
the config is reported with the exact key and what was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

__all__ = ["ParamError", "from_dict", "bounded"]

T = TypeVar("T")


class ParamError(ValueError):
    """A value in a table is missing, unknown, or of the wrong type or range."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        plural = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}
        return f"a list of {plural.get(inner, 'values')}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "nothing"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, key)
            except ParamError:
                pass
        raise ParamError(key, f"expected {_type_name(tp)}, got {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ParamError(key, f"expected {_type_name(tp)}, got {value!r}")
        (inner, *_) = typing.get_args(tp) or (Any,)
        return tuple(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is type(None):
        if value is None:
            return None
        raise ParamError(key, f"expected nothing, got {value!r}")
    # bool is an int in Python; a TOML `true` must not pass for a port number.
    if isinstance(value, bool) and tp is not bool:
        raise ParamError(key, f"expected {_type_name(tp)}, got {value!r}")
    if not isinstance(value, tp):
        raise ParamError(key, f"expected {_type_name(tp)}, got {value!r}")
    return value


def from_dict(cls: type[T], data: Any, prefix: str = "") -> T:
    """Return cls(**data) after checking every key and type; raise ParamError if not.

    A field's metadata may hold `minimum` / `maximum` (inclusive) and `choices`.
    """
    where = f"{prefix}." if prefix else ""
    if not isinstance(data, dict):
        raise ParamError(prefix or "(top level)", f"expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise ParamError(f"{where}{unknown[0]}", f"unknown key (known keys: {known})")
    values = {}
    for name, f in fields.items():
        key = f"{where}{name}"
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamError(key, "missing (this key is required)")
            continue
        value = _coerce(data[name], hints[name], key)
        meta = f.metadata
        if "minimum" in meta and value < meta["minimum"]:
            raise ParamError(key, f"must be at least {meta['minimum']}, got {value!r}")
        if "maximum" in meta and value > meta["maximum"]:
            raise ParamError(key, f"must be at most {meta['maximum']}, got {value!r}")
        if "choices" in meta:
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if item not in meta["choices"]:
                    raise ParamError(key, f"{item!r} is not one of {', '.join(map(repr, meta['choices']))}")
        values[name] = value
    try:
        return cls(**values)
    except ParamError as exc:  # (a __post_init__ that checks more: name the key in full)
        raise ParamError(f"{where}{exc.key}", exc.problem) from None


def bounded(default: Any, minimum: Any = None, maximum: Any = None, choices: Any = None):
    """A dataclass field with a default and limits checked by from_dict."""
    meta = {k: v for k, v in (("minimum", minimum), ("maximum", maximum), ("choices", choices)) if v is not None}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
