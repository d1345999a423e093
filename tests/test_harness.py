"""The harness itself (harness/): under `make test-fast`, which runs the pure tests alone, a
test that starts a brain fails at once with a sentence instead of making the loop slow."""

import time

import psutil
import pytest

from harness.brains import TEST_FAST, StartRefused, running_brain, start_refused
from harness.configs import ECHO_TICKER


def test_only_make_test_fast_refuses_a_brain():
    assert start_refused({}) == ""
    assert start_refused({TEST_FAST: ""}) == ""
    refused = start_refused({TEST_FAST: "1"}, "member")
    assert refused.startswith("This test starts a member, but this is `make test-fast`")
    assert "@pytest.mark.real" in refused and refused.endswith("run it with `make test`.")


def test_a_brain_started_under_make_test_fast_fails_at_once_and_starts_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(TEST_FAST, "1")
    started = time.monotonic()
    with pytest.raises(StartRefused, match=r"^This test starts a brain, but this is `make test-fast`"):
        with running_brain(ECHO_TICKER, tmp_path):
            pass
    assert time.monotonic() - started < 1.0  # (a brain takes seconds to start)
    assert not [p for p in psutil.Process().children(recursive=True) if "brain.cli" in p.cmdline()]
