"""The holder's batching decisions, as a pure class."""

from actors.models.batching import Batcher


def test_first_request_opens_a_window_and_the_timer_runs_it():
    batcher = Batcher(max_batch=4, max_wait_s=0.005)
    action = batcher.add("m", "a", now=10.0)
    assert action.wake_in_s == 0.005 and not action.run_now
    assert not batcher.add("m", "b", now=10.001).run_now
    assert not batcher.due("m", now=10.002)
    assert batcher.due("m", now=10.005)
    assert batcher.take("m") == ["a", "b"]
    assert not batcher.due("m", now=11.0)  # a stale timer does nothing


def test_full_batch_runs_at_once():
    batcher = Batcher(max_batch=3, max_wait_s=1.0)
    actions = [batcher.add("m", n, now=0.0) for n in range(3)]
    assert [a.run_now for a in actions] == [False, False, True]
    assert batcher.take("m") == [0, 1, 2]
    assert batcher.add("m", 3, now=0.1).wake_in_s == 1.0  # the next request opens a new window


def test_models_batch_separately():
    batcher = Batcher(max_batch=8, max_wait_s=0.01)
    batcher.add("objects", 1, now=0.0)
    batcher.add("faces", 2, now=0.0)
    assert batcher.take("objects") == [1] and batcher.waiting("faces") == 1


def test_zero_wait_batches_what_already_arrived():
    batcher = Batcher(max_batch=8, max_wait_s=0.0)
    assert batcher.add("m", 1, now=0.0).wake_in_s == 0.0
    batcher.add("m", 2, now=0.0)
    assert batcher.due("m", now=0.0) and batcher.take("m") == [1, 2]
