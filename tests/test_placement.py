"""Placement decisions of the model directory, without actors (actors/models/placement.py)."""

from actors.models.placement import best_host, making_progress, offers, pinned_to, runs_on


def test_a_holder_that_requires_nothing_runs_here():
    assert best_host((), {"gpu-box:1900": ("gpu",)}, {}) == ""


def test_the_least_loaded_host_that_offers_everything_required():
    up = {"a:1900": ("gpu",), "b:1900": ("gpu", "faces"), "c:1900": ("faces",)}
    assert best_host(("gpu",), up, {"a:1900": 2, "b:1900": 1}) == "b:1900"
    assert best_host(("gpu", "faces"), up, {"b:1900": 5}) == "b:1900"
    assert best_host(("tpu",), up, {}) == ""  # none fits: here, until one joins


def test_a_late_holder_that_burns_cpu_is_busy_not_hung():
    window = 2.0
    assert making_progress([(0.0, 1.0), (1.0, 1.5), (2.5, 2.0)], now=3.0, window_s=window)
    assert not making_progress([(0.0, 1.0), (1.0, 1.5), (2.5, 1.5)], now=3.0, window_s=window)  # stood still
    assert making_progress([(2.5, 1.5)], now=3.0, window_s=window)  # too little history: say busy
    assert not making_progress([], now=3.0, window_s=window)  # gone, a zombie or stopped


def test_an_actor_pinned_to_a_host_runs_there_only():
    assert runs_on({"Cortical Host": "b:1900"}, pinned_to("b:1900"))
    assert not runs_on({"Cortical Host": "a:1900"}, pinned_to("b:1900"))
    assert runs_on({"Cortical Host": "a:1900"}, None)
    assert offers({"Cortical Offers": ["gpu", "faces"]}, ("gpu",))
    assert not offers({}, ("gpu",))


def test_a_silent_host_is_lost_once_and_still_pinged_now_and_then():
    from actors.models.placement import HostState, Liveness

    host = Liveness(joined=0.0, dead_after_s=2.0, lost_ping_every=4)
    assert host.beat(0.5) == ("", True) and host.state is HostState.JOINING
    assert host.heard(0.6) is True and host.state is HostState.UP  # its first answer: up
    assert host.heard(1.0) is False  # already up
    assert host.beat(2.9) == ("", True)  # silent 1.9 s: not yet
    assert host.beat(3.1) == ("silent for 2.1 s", False)  # lost, said once (the 3rd beat: no ping)
    beats = [host.beat(3.1 + n * 0.5) for n in range(1, 9)]  # beats 4 to 11
    assert [lost for lost, _ in beats] == [""] * 8
    assert [ping for _, ping in beats] == [True, False, False, False, True, False, False, False]  # every 4th
    assert host.heard(8.0) is True and host.state is HostState.UP  # back: a healed partition


def test_a_host_that_never_answers_is_lost_after_dead_after_s_from_joining():
    from actors.models.placement import Liveness

    host = Liveness(joined=10.0, dead_after_s=1.0)
    assert host.beat(10.9)[0] == "" and host.beat(11.2)[0] == "silent for 1.2 s"
