"""Fixtures shared by the test modules (what tests and benchmarks share: harness/)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator

import pytest

from harness.brains import Brain, running_brain
from harness.configs import ECHO_TICKER


@pytest.fixture(scope="module")
def brain(tmp_path_factory) -> Iterator[Brain]:
    """One brain (echo + a fast ticker) shared by a test module."""
    with running_brain(ECHO_TICKER, tmp_path_factory.mktemp("brain")) as running:
        yield running


def _brains(item) -> list[Brain]:
    return [value for value in getattr(item, "funcargs", {}).values() if isinstance(value, Brain)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # What each brain logged during this test, kept for the report should the test fail
    # (a module's brain has logged the earlier tests too).
    item.brain_log_from = {id(brain): len(brain.log_lines) for brain in _brains(item)}
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        for brain in _brains(item):
            start = getattr(item, "brain_log_from", {}).get(id(brain), 0)
            logged = "\n".join(brain.log_lines[start:])
            report.sections.append(("brain log during the test", logged[-8000:] or "(nothing)"))
            report.sections.append(("thespian log", brain.thespian_log()))
    return report


# What starts something real: a brain, a browser, a subprocess or an actor system. A test
# that does (itself or through its fixtures) is marked `real`; `make test-fast` runs the
# others, the pure tests, alone (`-m "not real"`), and refuses to start a brain there.
_STARTS_SOMETHING = re.compile(
    r"\b(running_brain|Brain\(|Member\(|open_page|subprocess|Popen|ActorSystem|start_actor_system|members\()"
)


def _starts_something(function, seen: set) -> bool:
    if function in seen:
        return False
    seen.add(function)
    try:
        return bool(_STARTS_SOMETHING.search(inspect.getsource(function)))
    except (OSError, TypeError):
        return False


def pytest_configure(config):
    config.addinivalue_line("markers", "real: starts a brain, a browser, a subprocess or an actor system")


def pytest_collection_modifyitems(items):
    for item in items:
        seen: set = set()
        functions = [getattr(item, "function", None)]
        for definitions in item._fixtureinfo.name2fixturedefs.values():
            functions += [definition.func for definition in definitions]
        if any(_starts_something(function, seen) for function in functions if function is not None):
            item.add_marker(pytest.mark.real)
