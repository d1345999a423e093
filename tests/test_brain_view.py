"""The live view of the brain, pure (brain/brain_view.py) and as `brain top` renders it; what
the model directory's placement tells it (actors/models/placement.py, `seen`); and a real
brain's GET /brain/state with no eye, one eye, after it left and after its holder was killed."""

import os
import signal
import tomllib

from actors.messages import CortexesNow, CortexSeen, CortexState, Meter, Output
from actors.models.messages import HolderSeen, HoldersNow, HolderState, HostNow, ModelsLoaded
from actors.models.placement import CreateHolder, Placement
from actors.specs import HolderSettings, ModelSpec
from brain.brain_view import HISTOGRAM_MS, BrainView, histogram
from brain.top import render
from harness import ROOT
from harness.brains import brain_state, running_brain
from harness.configs import default_config
from harness.waits import wait_until

RUNNING, STARTING = CortexState.RUNNING, CortexState.STARTING


def told(view: BrainView, session: str = "s1", *cortexes: CortexSeen) -> None:
    view.cortexes_now(CortexesNow(session, cortexes or (CortexSeen("objects", RUNNING),)))


def ready(view: BrainView, session: str = "s1") -> None:
    view.opened(session, "127.0.0.1:5000", 0.0)
    told(view, session)


def serving(*holders: HolderSeen, hosts: tuple[HostNow, ...] = ()) -> HoldersNow:
    return HoldersNow(holders, hosts)


def holder(key: int, models: tuple[str, ...], pid: int = 7, host: str = "", **more) -> HolderSeen:
    devices = {name: "CPU" for name in models}
    return HolderSeen(key, host, models, HolderState.READY, pid, devices, **more)


def test_a_cortex_is_seen_as_its_session_tells_starting_running_restarting_back_and_off():
    view = BrainView()
    view.opened("s1", "127.0.0.1:5000", 0.0)
    state = lambda: view.snapshot(1.0)["sessions"][0]["cortexes"][0]  # noqa: E731
    told(view, "s1", CortexSeen("objects", STARTING))
    assert state()["state"] == "starting"
    told(view, "s1", CortexSeen("objects", RUNNING))
    assert state()["state"] == "running"
    crashed = "The objects cortex crashed; restarting it in 0.5 s (restart 1 of at most 5 in 60 s)."
    told(view, "s1", CortexSeen("objects", CortexState.RESTARTING, 1, crashed))
    assert (state()["state"], state()["restarts"], state()["last_error"]) == ("restarting", 1, crashed)
    told(view, "s1", CortexSeen("objects", STARTING, 1, crashed))
    told(view, "s1", CortexSeen("objects", RUNNING, 1, crashed))
    assert (state()["state"], state()["restarts"]) == ("running", 1)
    told(view, "s1", CortexSeen("objects", CortexState.OFF, 6, "… it stays off …"))
    assert (state()["state"], state()["last_error"]) == ("off", "… it stays off …")


def test_outputs_are_measured_even_before_the_session_tells_of_their_cortex_and_never_make_one_up():
    view = BrainView()
    view.opened("s1", "127.0.0.1:5000", 0.0)
    view.output("s1", Output("objects", "status", "Model objects ready.", {"state": "ready"}), 0.1)  # (first)
    view.output("s1", Output("session", "status", "The brain is ready.", {"ready": True, "cortexes": ["x"]}), 0.2)
    assert view.snapshot(1.0)["sessions"][0]["cortexes"] == []  # nobody said which cortexes it runs
    told(view, "s1", CortexSeen("objects", RUNNING))
    (objects,) = view.snapshot(1.0)["sessions"][0]["cortexes"]
    assert (objects["name"], objects["outputs_per_s"]) == ("objects", 0.1)  # its early output counted


def test_outputs_per_second_latency_and_drops_come_from_each_outputs_meter():
    view = BrainView()
    ready(view)
    for i in range(20):
        view.output(
            "s1", Output("objects", "label", "cup", {}, meter=Meter(latency_ms=10.0 + i, frames_dropped=i)), i * 0.5
        )
    (cortex,) = view.snapshot(10.0)["sessions"][0]["cortexes"]
    assert cortex["outputs_per_s"] == 2.0  # 20 in the last 10 s
    assert (cortex["p50_ms"], cortex["p95_ms"], cortex["frames_dropped"]) == (20.0, 29.0, 19)
    assert view.snapshot(30.0)["sessions"][0]["cortexes"][0]["outputs_per_s"] == 0.0


def test_holders_and_every_model_show_as_the_directory_tells_with_no_eye_at_all():
    view = BrainView()
    view.holders_now(serving(HolderSeen(1, "", ("objects", "faces"), HolderState.LOADING)), 0.0)
    state = view.snapshot(1.0)
    assert state["sessions"] == []
    assert [(h["state"], h["models"], h["pid"]) for h in state["holders"]] == [("loading", ["objects", "faces"], None)]
    assert [(m["name"], m["state"], m["histogram"]) for m in state["models"]] == [
        ("objects", "loading", [0] * 8),
        ("faces", "loading", [0] * 8),
    ]
    view.holders_now(serving(holder(1, ("objects", "faces"), pid=7)), 2.0)
    state = view.snapshot(3.0, pss_mb={7: 700.0})
    (shown,) = state["holders"]
    assert (shown["state"], shown["pid"], shown["pss_mb"], shown["host"]) == ("ready", 7, 700.0, "this machine")
    assert shown["devices"] == {"objects": "CPU", "faces": "CPU"} and view.local_pids() == [7]
    assert [(m["name"], m["state"], m["device"]) for m in state["models"]] == [
        ("objects", "ready", "CPU"),
        ("faces", "ready", "CPU"),
    ]


def test_a_move_to_a_joined_host_shows_both_holders_and_each_model_once_where_it_is_served():
    view = BrainView()
    here = holder(1, ("objects",), pid=7)
    there = HolderSeen(2, "gpu:1900", ("objects",), HolderState.LOADING, incoming=True)
    view.holders_now(serving(here, there, hosts=(HostNow("gpu:1900", "up"),)), 0.0)
    state = view.snapshot(1.0)
    assert [(h["host"], h["state"], h["incoming"]) for h in state["holders"]] == [
        ("this machine", "ready", False),
        ("gpu:1900", "loading", True),
    ]
    assert [(m["name"], m["host"]) for m in state["models"]] == [("objects", "this machine")]
    moved = holder(2, ("objects",), pid=9, host="gpu:1900")
    view.holders_now(serving(moved, hosts=(HostNow("gpu:1900", "up"),)), 2.0)
    state = view.snapshot(3.0, pss_mb={7: 700.0, 9: 800.0})
    assert [(h["host"], h["pid"], h["pss_mb"]) for h in state["holders"]] == [("gpu:1900", 9, None)]  # (not ours)
    assert state["hosts"] == ["gpu:1900", "this machine"] and view.local_pids() == []
    assert state["host_states"] == {"this machine": "up", "gpu:1900": "up"}
    view.holders_now(serving(holder(3, ("objects",), pid=11), hosts=(HostNow("gpu:1900", "lost"),)), 4.0)
    assert view.snapshot(5.0)["host_states"]["gpu:1900"] == "lost"


def test_a_lost_holder_and_a_failed_one_are_warned_of_once_and_shown_with_why():
    view = BrainView()
    view.holders_now(serving(holder(1, ("objects",), pid=7)), 0.0)
    why = "the holder on this machine exited; it is being re-created on this machine"
    recreated = HolderSeen(2, "", ("objects",), HolderState.LOADING, lost=1, last_lost=why)
    view.holders_now(serving(recreated), 1.0)
    view.holders_now(serving(recreated), 1.5)  # (told again: no second warning)
    (shown,) = view.snapshot(2.0)["holders"]
    assert (shown["state"], shown["lost"], shown["last_lost"]) == ("loading", 1, why)
    assert [w["text"] for w in view.snapshot(2.0)["warnings"]] == [
        "The holder on this machine exited; it is being re-created on this machine."
    ]
    failed = HolderSeen(2, "", ("objects",), HolderState.FAILED, error="on this machine, bad weights", lost=1)
    view.holders_now(serving(failed), 3.0)
    assert view.snapshot(3.0)["warnings"][-1]["text"] == (
        "The holder of objects could not load them (on this machine, bad weights): check their [[model]] "
        "stanzas (kind, path), then restart the brain."
    )
    assert view.snapshot(3.0)["holders"][0]["error"] == "on this machine, bad weights"


def test_a_closed_session_leaves_the_view_and_warnings_stay_bounded():
    view = BrainView()
    ready(view)
    for i in range(100):
        view.output("s1", Output("objects", "error", f"error {i}", {}), float(i))
    assert len(view.snapshot(100.0)["warnings"]) == 20
    assert view.snapshot(100.0)["sessions"][0]["cortexes"][0]["last_error"] == "error 99"
    view.closed("s1")
    assert view.snapshot(100.0)["sessions"] == []
    view.output("s1", Output("objects", "label", "late", {}), 101.0)  # (after it left: ignored)
    told(view, "s1")  # (its Session's last word, after the eye left: ignored)
    assert view.snapshot(102.0)["sessions"] == []


def test_brain_top_renders_what_a_person_needs():
    view = BrainView()
    ready(view)
    view.holders_now(serving(holder(1, ("objects",), pid=7), HolderSeen(2, "", ("pose",), HolderState.LOADING)), 1.0)
    for latency in (30.0, 40.0, 45.0, 300.0):
        meter = Meter(latency_ms=latency, batch=2, queued=1, model="objects")
        view.output("s1", Output("objects", "label", "cup", {}, meter=meter), 1.5)
    text = render({**view.snapshot(2.0, {7: 712.4}), "uptime_s": 42})
    assert "Cortical brain · up 42 s · 1 eye" in text
    assert "2.0/2" in text and "CPU" in text  # the holder's batches and device
    assert "[  █  ▃  ]  0 0 3 0 0 1 0 0" in text  # objects: 3 answers in 25–50 ms, 1 in 250–500 ms
    assert "this machine" in text and "712" in text and "objects" in text
    assert "EYE s1  from 127.0.0.1:5000" in text and "running" in text
    (pose,) = [line for line in text.splitlines() if line.endswith("pose")]
    assert "loading" in pose and " – " in pose  # no pid yet


def test_each_model_has_a_latency_histogram_and_its_holder_shows_device_batches_and_queue():
    view = BrainView()
    ready(view)
    gpu = HolderSeen(1, "gpu:1900", ("objects",), HolderState.READY, 9, {"objects": "GPU:0 (Tesla T4)"})
    view.holders_now(serving(gpu), 1.0)
    for i, (latency, batch, queued) in enumerate([(8.0, 1, 0), (30.0, 4, 2), (40.0, 16, 5), (2000.0, 16, 1)]):
        meter = Meter(latency_ms=latency, batch=batch, queued=queued, model="objects", host="gpu:1900")
        view.output("s1", Output("objects", "label", "cup", {}, meter=meter), 2.0 + i)
    state = view.snapshot(10.0)
    (shown,) = state["holders"]
    assert shown["devices"] == {"objects": "GPU:0 (Tesla T4)"}
    assert (shown["batch_mean"], shown["batch_max"], shown["queued"]) == (9.2, 16, 1)
    (model,) = state["models"]
    assert (model["name"], model["host"], model["device"]) == ("objects", "gpu:1900", "GPU:0 (Tesla T4)")
    assert model["histogram"] == [1, 0, 2, 0, 0, 0, 0, 1]  # ≤10, ≤25, ≤50, … and above 1 s
    assert state["histogram_ms"] == list(HISTOGRAM_MS)
    assert histogram([10.0, 10.1, 1000.0, 1000.1]) == [1, 1, 0, 0, 0, 0, 1, 1]  # edges are inclusive


def test_fifty_busy_eyes_make_a_bounded_snapshot():
    """The page and `brain top` read the state every second: with 50 eyes of 7 cortexes each
    sending for minutes, the JSON stays small and the view keeps a bounded history."""
    import json

    view = BrainView()
    cortexes = ["echo", "objects", "faces", "pose", "voice", "learned", "mentions"]
    for s in range(50):
        view.opened(f"s{s}", "10.0.0.1:5000", 0.0)
        told(view, f"s{s}", *(CortexSeen(name, RUNNING) for name in cortexes))
    for tick in range(3000):  # 5 outputs a second from each cortex for 10 minutes, thinned
        for s in range(0, 50, 10):
            for name in cortexes:
                meter = Meter(latency_ms=float(tick % 97), batch=4, queued=0, model=name, frames_dropped=tick)
                view.output(f"s{s}", Output(name, "label", "x" * 50, {}, meter=meter), tick * 0.2)
                view.output(f"s{s}", Output(name, "error", "y" * 200, {}), tick * 0.2)
    payload = json.dumps(view.snapshot(600.0))
    assert len(view.snapshot(600.0)["sessions"]) == 50
    assert len(payload) < 100_000, len(payload)
    kept = sum(len(c.outputs) + len(c.latencies) for seen in view.sessions.values() for c in seen.cortexes.values())
    assert kept <= 50 * len(cortexes) * 2200


def test_changes_count_what_must_show_at_once_and_not_every_frame():
    """The gateway reuses a snapshot for half a second unless `changes` moved."""
    view = BrainView()
    ready(view)
    before = view.changes
    for i in range(10):
        view.output("s1", Output("objects", "label", "cup", {}, meter=Meter(latency_ms=5.0)), 1.0 + i)
    assert view.changes == before
    told(view, "s1", CortexSeen("objects", CortexState.RESTARTING, 1, "crashed"))
    assert view.changes > before
    before = view.changes
    view.holders_now(serving(holder(1, ("objects",))), 12.0)
    assert view.changes > before


# -- what the directory's placement tells: every holder, as it goes --------------------------

SETTINGS = HolderSettings(max_batch=8, max_wait_ms=5, restart_delay_s=1.0, heartbeat_every_s=0.5, host_dead_after_s=2.0)


def spec(name: str, *requires: str) -> ModelSpec:
    return ModelSpec(name=name, kind="nanodet", path="models/nanodet.json", format="tfjs", requires=requires)


def loaded(pid: int, *models: str) -> ModelsLoaded:
    return ModelsLoaded(pid, 1.0, 500.0, {m: (416, 416) for m in models}, {models[0]: "GPU:0 (T4)"})


def test_the_placement_tells_each_holder_loading_ready_lost_and_loaded_again():
    placement = Placement((spec("objects"), spec("faces"), spec("big", "gpu")), SETTINGS)
    creates = placement.start()
    assert [c.holder for c in creates] == [1, 2]
    loading = placement.seen()
    assert [(h.holder, h.host, h.models, h.state) for h in loading.holders] == [
        (1, "", ("objects", "faces"), HolderState.LOADING),
        (2, "", ("big",), HolderState.LOADING),
    ]
    placement.holder_loaded(1, loaded(100, "objects", "faces"))
    (first, _) = placement.seen().holders
    assert (first.state, first.pid, first.devices) == (
        HolderState.READY,
        100,
        {"objects": "GPU:0 (T4)", "faces": "CPU"},
    )
    commands = placement.holder_exited(1, now=5.0)  # killed: re-created at once (two free restarts)
    assert [c for c in commands if isinstance(c, CreateHolder)] == [
        CreateHolder(3, "", (spec("objects"), spec("faces")))
    ]
    (again, _) = placement.seen().holders
    assert (again.holder, again.state, again.lost) == (3, HolderState.LOADING, 1)
    assert again.last_lost == "the holder on this machine exited; it is being re-created on this machine"
    placement.holder_loaded(3, loaded(300, "objects", "faces"))
    assert placement.seen().holders[0].state is HolderState.READY and placement.seen().holders[0].pid == 300


def test_the_placement_tells_a_failed_holder_a_lost_one_waiting_and_a_joined_host():
    placement = Placement((spec("objects", "gpu"),), SETTINGS)
    placement.start()
    placement.holder_failed(1, "bad weights")
    (failed,) = placement.seen().holders
    assert (failed.state, failed.error) == (HolderState.FAILED, "on this machine, bad weights")
    for n, now in enumerate((0.0, 1.0, 2.0)):  # the third death in a row waits for its backoff
        placement.holder_exited(1 + n, now)
    (waiting,) = placement.seen().holders
    assert (waiting.holder, waiting.state, waiting.lost) == (0, HolderState.LOST, 3)
    placement.host_joined("gpu:1900", ("gpu",), 3.0)
    assert placement.seen().hosts == (HostNow("gpu:1900", "joining"),)
    placement.host_alive("gpu:1900", {}, 3.1)
    assert placement.seen().hosts == (HostNow("gpu:1900", "up"),)
    assert placement.seen() == placement.seen()  # (the directory tells its watchers only what changed)


# -- a real brain: the default config's five models, told whether or not an eye is there ----

MODELS = {m["name"] for m in tomllib.loads((ROOT / "config" / "default.toml").read_text())["model"]}


def ready_models(state: dict) -> dict[str, int]:
    """model → the pid of the ready holder serving it, as GET /brain/state says."""
    return {
        name: holder["pid"]
        for holder in state["holders"]
        if holder.get("pid") and holder.get("state", "ready") == "ready"
        for name in holder["models"]
    }


def test_the_live_view_lists_every_holder_and_model_with_no_eye_one_eye_after_it_left_and_a_kill(tmp_path):
    with running_brain(default_config(tmp_path / "faces"), tmp_path) as brain:
        # No eye has ever connected: the directory told the view anyway.
        assert wait_until(lambda: set(ready_models(brain_state(brain))) == MODELS, 180), brain_state(brain)
        state = brain_state(brain)
        (holder,) = brain.named("ModelHolder")
        assert set(ready_models(state).values()) == {holder.pid}
        assert {m["name"] for m in state["models"]} == MODELS and state["sessions"] == []
        with brain.eye(max_size=None) as eye:
            eye.wait_ready(60)
            assert eye.ask("hello", 30)["text"] == "hello"
            state = brain_state(brain)
            assert set(ready_models(state)) == MODELS
            (session,) = state["sessions"]
            names = [c["name"] for c in session["cortexes"]]
            assert names == ["echo", "objects", "faces", "pose", "learned", "voice", "gallery"], names
            # Text started what takes text; the rest wait for what they take.
            running = {"echo", "voice"}
            assert wait_until(
                lambda: (
                    {c["name"]: c["state"] for c in brain_state(brain)["sessions"][0]["cortexes"]}
                    == {n: "running" if n in running else "idle" for n in names}
                ),
                30,
            ), brain_state(brain)["sessions"]
        assert wait_until(lambda: brain_state(brain)["sessions"] == [], 10)  # the eye left
        assert ready_models(brain_state(brain)) == dict.fromkeys(MODELS, holder.pid)  # and the models stay
        # A killed holder: shown lost and re-created, then ready again in a new process.
        os.kill(holder.pid, signal.SIGKILL)
        assert wait_until(lambda: brain_state(brain)["holders"][0]["lost"] == 1, 30), brain_state(brain)
        assert wait_until(lambda: set(ready_models(brain_state(brain))) == MODELS, 180), brain_state(brain)
        (shown,) = brain_state(brain)["holders"]
        (again,) = brain.named("ModelHolder")
        assert (shown["pid"], shown["lost"]) == (again.pid, 1) and again.pid != holder.pid
        assert "the holder on this machine exited" in shown["last_lost"]
        assert any("exited" in w["text"] for w in brain_state(brain)["warnings"])
        with brain.eye(max_size=None) as eye:  # and the brain still answers
            eye.wait_ready(60)
            assert eye.ask("still there?", 30)["text"] == "still there?"
