"""The harness itself (harness/): under `make test-fast`, which runs the pure tests alone, a
test that starts a brain fails at once with a sentence instead of making the loop slow."""

import subprocess
import sys
import time

import psutil
import pytest

from harness.brains import TEST_FAST, StartRefused, running_brain, start_refused
from harness.configs import ECHO_TICKER
from harness.processes import leader_started, processes_in_session


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


def test_a_session_number_that_leads_a_newer_session_is_not_our_leftovers():
    """A stopped brain's session number may be reused by another brain's admin (setsid) once
    all its processes have ended: killing "its leftovers" then must not kill that brain."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        sid = sleeper.pid
        started = leader_started(sid)
        assert [p.pid for p in processes_in_session(sid, started)] == [sid]  # (ours)
        assert processes_in_session(sid, started - 1.0) == []  # (the number, now another's)
    finally:
        sleeper.kill()
        sleeper.wait()
