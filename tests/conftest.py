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
