"""The holder's batching decisions, as a pure class."""

from actors.models.batching import Batcher


def requests(batch):
    return [request for _source, request in batch]


def test_first_request_opens_a_window_and_the_timer_runs_it():
    batcher = Batcher(max_batch=4, max_wait_s=0.005)
    action = batcher.add("m", "a", now=10.0)
    assert action.wake_in_s == 0.005 and not action.run_now
    assert not batcher.add("m", "b", now=10.001).run_now
    assert not batcher.due("m", now=10.002)
    assert batcher.due("m", now=10.005)
    assert requests(batcher.take("m")) == ["a", "b"]
    assert not batcher.due("m", now=11.0)  # a stale timer does nothing


def test_full_batch_runs_at_once():
    batcher = Batcher(max_batch=3, max_wait_s=1.0)
    actions = [batcher.add("m", n, now=0.0) for n in range(3)]
    assert [a.run_now for a in actions] == [False, False, True]
    assert requests(batcher.take("m")) == [0, 1, 2]
    assert batcher.add("m", 3, now=0.1).wake_in_s == 1.0  # the next request opens a new window


def test_models_batch_separately():
    batcher = Batcher(max_batch=8, max_wait_s=0.01)
    batcher.add("objects", 1, now=0.0)
    batcher.add("faces", 2, now=0.0)
    assert requests(batcher.take("objects")) == [1] and batcher.waiting("faces") == 1


def test_zero_wait_batches_what_already_arrived():
    batcher = Batcher(max_batch=8, max_wait_s=0.0)
    assert batcher.add("m", 1, now=0.0).wake_in_s == 0.0
    batcher.add("m", 2, now=0.0)
    assert batcher.due("m", now=0.0) and requests(batcher.take("m")) == [1, 2]


def test_a_round_robin_by_source_not_the_order_read():
    """Under overload every eye waits each round; the eyes read last must not always be served
    last (they outlived their deadline and starved)."""
    batcher = Batcher(max_batch=2, max_wait_s=0.0)
    served = []
    for _ in range(3):  # three rounds: each eye's cortex has one request waiting, read in the same order
        for eye in "abcdef":
            batcher.add("m", eye, now=0.0, source=eye)
        run = batcher.take("m")  # one batch a round runs before the rest outlive their deadline
        for source, _request in run:
            batcher.answered("m", source)
        served.append([request for _, request in run])
        while batcher.take("m"):  # (skipped: not answered)
            pass
    assert served == [["a", "b"], ["c", "d"], ["e", "f"]]


def test_one_source_does_not_fill_a_batch_while_others_wait():
    batcher = Batcher(max_batch=2, max_wait_s=0.0)
    for n in range(3):
        batcher.add("m", f"big{n}", now=0.0, source="big")
    batcher.add("m", "small", now=0.0, source="small")
    assert requests(batcher.take("m")) == ["big0", "small"]
    assert requests(batcher.take("m")) == ["big1", "big2"]  # (nobody else waits: it may have the batch)


def test_sources_take_turns_per_model():
    batcher = Batcher(max_batch=1, max_wait_s=0.0)
    batcher.add("faces", "a-faces", now=0.0, source="a")
    batcher.answered("faces", "a")
    batcher.add("emotion", "a", now=0.0, source="a")
    batcher.add("emotion", "b", now=0.0, source="b")
    assert requests(batcher.take("emotion")) == ["a"]  # a's turn on another model does not count here


def test_a_source_forgotten_ranks_as_new():
    # (a cortex's connection closed, and the next one got its fd number)
    batcher = Batcher(max_batch=1, max_wait_s=0.0)
    batcher.answered("m", 8)
    batcher.answered("m", 7)  # (7 served last: remembered, it would come after 8)
    batcher.forget(7)
    batcher.add("m", "fd 8", now=0.0, source=8)
    batcher.add("m", "newcomer on fd 7", now=0.0, source=7)
    assert requests(batcher.take("m")) == ["newcomer on fd 7"]
