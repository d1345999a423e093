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


# -- the state machine: every scale-out scenario, in milliseconds ----------------------------

from actors.models.messages import ModelsLoaded  # noqa: E402
from actors.models.placement import (  # noqa: E402
    CreateHolder,
    ExitHolder,
    KillHere,
    KillThere,
    PingHost,
    Placement,
    StartBeacon,
    TellAt,
    TellLoading,
    TellLost,
    TellUnavailable,
    WakeAfter,
)
from actors.specs import HolderSettings, ModelSpec  # noqa: E402

GPU = "gpu-box:1900"
SETTINGS = HolderSettings(max_batch=8, max_wait_ms=5, restart_delay_s=1.0, heartbeat_every_s=0.5, host_dead_after_s=2.0)


def spec(name: str, *requires: str) -> ModelSpec:
    return ModelSpec(name=name, kind="nanodet", path="models/nanodet.json", format="tfjs", requires=requires)


def loaded(pid: int, *models: str) -> ModelsLoaded:
    return ModelsLoaded(pid=pid, seconds=1.0, peak_rss_mb=500.0, inputs={m: (416, 416) for m in models})


def of(kind, commands):
    return [c for c in commands if isinstance(c, kind)]


def gpu_objects_served_here():
    """A placement of one "objects" model that requires a gpu, loaded here, one client asking."""
    placement = Placement((spec("objects", "gpu"),), SETTINGS)
    (create,) = placement.start()
    assert create == CreateHolder(1, "", (spec("objects", "gpu"),))  # no gpu host yet: here
    assert placement.asked("cortex", "objects") == [TellLoading("cortex", "objects")]
    assert placement.holder_loaded(1, loaded(100, "objects")) == [TellAt("cortex", "objects", 1, (416, 416), 100, "")]
    return placement


def gpu_host_up(placement: Placement, now: float) -> list:
    assert placement.host_joined(GPU, ("gpu",), now) == [StartBeacon(GPU), PingHost(GPU, ())]
    return placement.host_alive(GPU, {}, now + 0.1)


def test_models_that_require_the_same_things_share_one_holder_and_unknown_models_are_refused():
    placement = Placement((spec("objects"), spec("faces"), spec("big", "gpu")), SETTINGS)
    creates = placement.start()
    assert [(c.host, [m.name for m in c.models]) for c in creates] == [("", ["objects", "faces"]), ("", ["big"])]
    (refusal,) = placement.asked("cortex", "nope")
    assert isinstance(refusal, TellUnavailable) and "known: objects, faces, big" in refusal.reason


def test_a_holder_moves_to_a_host_that_offers_what_it_requires_then_the_old_one_exits():
    placement = gpu_objects_served_here()
    assert gpu_host_up(placement, now=10.0) == [CreateHolder(2, GPU, (spec("objects", "gpu"),))]  # loads first
    assert placement.asked("late", "objects") == [TellAt("late", "objects", 1, (416, 416), 100, "")]  # still here
    moved = placement.holder_loaded(2, loaded(7, "objects"))
    assert moved == [
        TellAt("cortex", "objects", 2, (416, 416), 7, GPU),  # every client is switched over ...
        TellAt("late", "objects", 2, (416, 416), 7, GPU),
        ExitHolder(1),  # ... before the old holder is asked to exit, after the requests it has
    ]
    assert placement.tick(10.5) == [PingHost(GPU, (7,))]  # its beacon reports the holder's CPU


def test_a_request_in_flight_across_a_move_is_answered_by_the_old_holder():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    # The old holder is asked to exit only once every client knows the new one: requests
    # sent before that are in its mailbox ahead of the exit request, and are answered.
    commands = placement.holder_loaded(2, loaded(7, "objects"))
    assert commands.index(ExitHolder(1)) > max(commands.index(c) for c in of(TellAt, commands))
    assert placement.holder_exited(1, now=11.0) == []  # its exit is no loss
    assert placement.asked("cortex", "objects") == [TellAt("cortex", "objects", 2, (416, 416), 7, GPU)]


def test_a_host_lost_during_a_move_leaves_the_holder_here_and_its_loader_is_ended_when_heard_again():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)  # holder 2 loading there
    assert placement.tick(11.0) == [PingHost(GPU, ())]
    assert placement.tick(12.5) == []  # silent 2.4 s: lost; nobody was using it, nobody is told
    assert placement.asked("cortex", "objects") == [TellAt("cortex", "objects", 1, (416, 416), 100, "")]
    back = placement.host_alive(GPU, {}, 13.0)  # a healed partition
    assert back == [ExitHolder(2), CreateHolder(3, GPU, (spec("objects", "gpu"),))]  # the half-loaded one ends


def test_a_lost_host_costs_its_holder_clients_are_told_at_once_and_it_comes_back_here():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    placement.holder_loaded(2, loaded(7, "objects"))
    placement.host_alive(GPU, {7: 3.0}, 10.5)
    commands = placement.tick(12.6)  # silent 2.1 s
    (lost,) = of(TellLost, commands)
    assert lost.client == "cortex" and lost.holder == 2
    assert lost.reason == (
        f"the holder's host {GPU} is lost (silent for 2.1 s); it is being re-created on this machine"
    )
    assert of(CreateHolder, commands) == [CreateHolder(3, "", (spec("objects", "gpu"),))]
    assert of(ExitHolder, commands) == []  # unreachable: it cannot be asked, it is ended when heard
    assert placement.asked("cortex", "objects") == [TellLoading("cortex", "objects")]
    assert placement.holder_loaded(3, loaded(200, "objects")) == [TellAt("cortex", "objects", 3, (416, 416), 200, "")]


def test_a_healed_partition_ends_the_holder_left_there_and_moves_back():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    placement.holder_loaded(2, loaded(7, "objects"))
    placement.tick(12.6)  # lost; holder 3 here
    placement.holder_loaded(3, loaded(200, "objects"))
    for beat in range(1, 20):  # a lost host is still pinged now and then, so its beacon keeps us
        placement.tick(12.6 + beat * 0.5)
    back = placement.host_alive(GPU, {7: 3.0}, 23.0)
    # Two TensorFlow processes on one GPU would not fit: the one left behind ends first.
    assert back == [ExitHolder(2), KillThere(GPU, 7), CreateHolder(4, GPU, (spec("objects", "gpu"),))]
    assert of(ExitHolder, placement.holder_loaded(4, loaded(8, "objects"))) == [ExitHolder(3)]


def test_a_load_failure_after_a_move_keeps_serving_from_where_it_is():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    assert placement.holder_failed(2, "out of GPU memory") == [ExitHolder(2)]
    assert placement.asked("cortex", "objects") == [TellAt("cortex", "objects", 1, (416, 416), 100, "")]


def test_a_failed_load_with_nowhere_else_to_go_is_said_to_every_asker():
    placement = Placement((spec("objects"),), SETTINGS)
    placement.start()
    placement.asked("a", "objects")
    (said,) = placement.holder_failed(1, "bad weights")
    assert said == TellUnavailable("a", "objects", "the models could not be loaded: on this machine, bad weights")
    assert placement.asked("b", "objects")[0].reason.endswith("bad weights")  # later askers too


def test_holders_that_keep_dying_before_loading_are_recreated_ever_more_slowly():
    placement = Placement((spec("objects"),), SETTINGS)
    placement.start()
    assert of(CreateHolder, placement.holder_exited(1, now=0.0)) == [CreateHolder(2, "", (spec("objects"),))]
    assert of(CreateHolder, placement.holder_exited(2, now=1.0)) == [CreateHolder(3, "", (spec("objects"),))]
    assert of(WakeAfter, placement.holder_exited(3, now=2.0)) == [WakeAfter(1.0, 0)]  # two free, then a wait
    assert placement.place_again(0) == [CreateHolder(4, "", (spec("objects"),))]
    assert of(WakeAfter, placement.holder_exited(4, now=3.0)) == [WakeAfter(2.0, 0)]  # doubled
    placement.place_again(0)
    placement.holder_loaded(5, loaded(9, "objects"))  # it loaded: its crashes are forgiven
    assert of(CreateHolder, placement.holder_exited(5, now=4.0)) == [CreateHolder(6, "", (spec("objects"),))]


def test_a_late_holder_here_is_killed_one_on_a_host_only_when_it_stands_still():
    placement = Placement((spec("objects"),), SETTINGS)
    placement.start()
    placement.asked("cortex", "objects")
    placement.holder_loaded(1, loaded(100, "objects"))
    commands = placement.holder_suspect(1, now=5.0)
    assert commands[0] == KillHere(100) and of(TellLost, commands)[0].holder == 1
    assert of(CreateHolder, commands) == [CreateHolder(2, "", (spec("objects"),))]

    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    placement.holder_loaded(2, loaded(7, "objects"))
    placement.host_alive(GPU, {7: 1.0}, 10.5)
    placement.host_alive(GPU, {7: 2.0}, 13.0)
    assert placement.holder_suspect(2, now=13.1) == []  # late but busy: left be
    placement.host_alive(GPU, {7: 2.0}, 15.5)
    commands = placement.holder_suspect(2, now=15.6)  # no CPU used in 2 s: hung
    assert commands[0] == KillThere(GPU, 7) and of(TellLost, commands)[0].holder == 2
    assert placement.holder_suspect(2, now=15.7) == []  # reported twice: replaced already


def test_a_beacon_that_exits_on_a_live_host_is_replaced_one_of_a_lost_host_is_not():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    assert placement.beacon_exited(GPU) == [StartBeacon(GPU), PingHost(GPU, ())]
    placement.tick(13.0)  # lost
    assert placement.beacon_exited(GPU) == []


def test_a_host_that_leaves_is_forgotten_and_its_holder_replaced():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)
    placement.holder_loaded(2, loaded(7, "objects"))
    commands = placement.host_left(GPU, now=11.0)
    assert "is lost (it left)" in of(TellLost, commands)[0].reason
    assert of(CreateHolder, commands) == [CreateHolder(3, "", (spec("objects", "gpu"),))]
    assert placement.tick(12.0) == []  # no more pings
    placement.forget("cortex")
    assert of(TellLost, placement.holder_exited(3, now=12.0)) == []  # a client that left is not told


def test_the_holder_here_dying_while_one_loads_on_a_host_leaves_the_loading_one_to_take_over():
    placement = gpu_objects_served_here()
    gpu_host_up(placement, now=10.0)  # holder 2 loading there
    commands = placement.holder_exited(1, now=10.5)
    assert of(CreateHolder, commands) == []  # no second holder: the loading one takes over
    (lost,) = of(TellLost, commands)
    assert lost.reason == f"the holder on this machine exited; it is being re-created on host {GPU}"
    assert placement.asked("cortex", "objects") == [TellLoading("cortex", "objects")]
    assert placement.holder_loaded(2, loaded(7, "objects")) == [TellAt("cortex", "objects", 2, (416, 416), 7, GPU)]
