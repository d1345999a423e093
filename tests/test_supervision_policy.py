"""Restart decisions and the error budget (pure: the time is passed in)."""

import pytest

from actors.supervision import ErrorBudget, GiveUp, Restart, Restarts, SupervisionPolicy, never_give_up
from brain.config import ConfigError, parse_config

POLICY = SupervisionPolicy(max_restarts=3, window_s=60.0, backoff_s=0.5, max_backoff_s=1.5)


def test_restarts_back_off_then_give_up():
    restarts = Restarts(POLICY)
    assert [restarts.crashed(t) for t in (0, 1, 2, 3)] == [Restart(0.5, 1), Restart(1.0, 2), Restart(1.5, 3), GiveUp(4)]


def test_crashes_older_than_the_window_are_forgotten():
    restarts = Restarts(POLICY)
    for t in (0, 1, 2):
        restarts.crashed(t)
    assert restarts.crashed(61.5) == Restart(1.0, 2)  # the crashes at 0 and 1 are out of the window


def test_free_restarts_come_at_once_and_reset_forgets():
    restarts = Restarts(never_give_up(2.0, 60.0), free=2)
    assert [restarts.crashed(t).after_s for t in range(7)] == [0.0, 0.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert restarts.crashed(100).after_s == 60.0
    restarts.reset()
    assert restarts.crashed(101) == Restart(0.0, 1)


def test_the_error_budget_is_spent_by_errors_close_together():
    budget = ErrorBudget(SupervisionPolicy(max_errors=3, errors_window_s=10.0))
    assert [budget.spent(t) for t in (0, 5, 11, 12)] == [False, False, False, True]  # 0 left the window


@pytest.mark.parametrize(
    "text, key",
    [
        ("[supervision]\nmax_restarts = -5", "supervision.max_restarts"),
        ("[supervision]\nbackoff_s = -1", "supervision.backoff_s"),
        ("[supervision]\nwindow_s = 0", "supervision.window_s"),
        ("[supervision]\nmax_errors = 0", "supervision.max_errors"),
    ],
)
def test_the_supervision_section_is_range_checked(text, key):
    import tomllib

    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text))
    assert caught.value.key == key and "must be" in caught.value.problem
