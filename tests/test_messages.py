"""Each family's messages live in its own `messages.py` (the shared ones in
actors/messages.py), each says what it offers in an `__all__` that matches what it
defines, and each is a small frozen dataclass (or an enum of its states).
Pure: imports the modules, starts nothing."""

import dataclasses
import enum
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in (ROOT / "actors").rglob("messages.py")
)


def defined_in(module) -> set[str]:
    """The public names a module defines itself (not those it imports)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (
            (inspect.isclass(value) and value.__module__ == module.__name__)
            or (name.isupper() and not inspect.ismodule(value))
        )
        and name != "TYPE_CHECKING"
    }


def test_the_families_keep_their_own():
    assert MODULES == [
        "actors.cortexes.learned.messages",
        "actors.cortexes.mentions.messages",
        "actors.messages",
        "actors.models.messages",
    ]


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_what_the_module_defines(name):
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(defined_in(module))
    assert len(module.__all__) == len(set(module.__all__)), "a name twice in __all__"


@pytest.mark.parametrize("name", MODULES)
def test_every_message_is_a_frozen_dataclass(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        value = getattr(module, attr)
        if not inspect.isclass(value) or issubclass(value, enum.Enum):
            continue
        assert dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen, attr


def test_no_message_is_defined_twice():
    seen: dict[str, str] = {}
    for name in MODULES:
        for attr in importlib.import_module(name).__all__:
            assert attr not in seen, f"{attr} is in {seen.get(attr)} and {name}"
            seen[attr] = name
