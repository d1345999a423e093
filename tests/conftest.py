"""Fixtures shared by the test modules (the helpers themselves: tests/helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import ECHO_TICKER, Brain, running_brain


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
