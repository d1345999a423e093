"""The live view of the brain, pure (brain/brain_view.py) and as `brain top` renders it."""

from actors.messages import Meter, Output
from brain.brain_view import HISTOGRAM_MS, BrainView, histogram
from brain.top import render


def ready(view: BrainView, session: str = "s1") -> None:
    view.opened(session, "127.0.0.1:5000", 0.0)
    view.output(
        session, Output("session", "status", "The brain is ready.", {"ready": True, "cortexes": ["objects"]}), 0.5
    )


def test_a_cortex_is_seen_starting_running_restarting_back_and_off():
    view = BrainView()
    ready(view)
    state = lambda: view.snapshot(1.0)["sessions"][0]["cortexes"][0]  # noqa: E731
    assert state()["state"] == "running"
    crashed = {"cortex": "objects", "restarting": "objects", "state": "restarting"}
    view.output("s1", Output("session", "error", "The objects cortex crashed; restarting it…", crashed), 1.0)
    assert (state()["state"], state()["restarts"]) == ("restarting", 1)
    assert state()["last_error"].startswith("The objects cortex crashed")
    back = {"restarted": "objects", "cortex": "objects", "state": "running"}
    view.output("s1", Output("session", "status", "The objects cortex is back.", back), 1.5)
    assert (state()["state"], state()["restarts"]) == ("running", 1)
    view.output("s1", Output("session", "error", "… it stays off …", {"cortex": "objects", "state": "off"}), 2.0)
    assert state()["state"] == "off"
    assert view.snapshot(2.0)["warnings"][-1]["text"] == "… it stays off …"


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


def test_holders_are_grouped_by_process_and_follow_a_move():
    view = BrainView()
    ready(view)
    for model in ("objects", "faces"):
        view.output(
            "s1", Output("objects", "status", "ready", {"model": model, "state": "ready", "host": "", "pid": 7}), 1.0
        )
    moved = {"model": "objects", "state": "ready", "host": "gpu:1900", "pid": 9}
    view.output("s1", Output("objects", "status", "ready", moved), 2.0)
    holders = view.snapshot(3.0, pss_mb={7: 700.0})["holders"]
    assert [(h["models"], h["host"], h["pid"], h["pss_mb"]) for h in holders] == [
        (["faces"], "this machine", 7, 700.0),
        (["objects"], "gpu:1900", 9, None),
    ]
    assert view.snapshot(3.0)["hosts"] == ["gpu:1900", "this machine"]


def test_a_closed_session_leaves_the_view_and_warnings_stay_bounded():
    view = BrainView()
    ready(view)
    for i in range(100):
        view.output("s1", Output("objects", "error", f"error {i}", {}), float(i))
    assert len(view.snapshot(100.0)["warnings"]) == 20
    view.closed("s1")
    assert view.snapshot(100.0)["sessions"] == []
    view.output("s1", Output("objects", "label", "late", {}), 101.0)  # (after it left: ignored)


def test_brain_top_renders_what_a_person_needs():
    view = BrainView()
    ready(view)
    view.output(
        "s1", Output("objects", "status", "ready", {"model": "objects", "state": "ready", "host": "", "pid": 7}), 1.0
    )
    for latency in (30.0, 40.0, 45.0, 300.0):
        meter = Meter(latency_ms=latency, batch=2, queued=1, model="objects")
        view.output("s1", Output("objects", "label", "cup", {}, meter=meter), 1.5)
    text = render({**view.snapshot(2.0, {7: 712.4}), "uptime_s": 42})
    assert "Cortical brain · up 42 s · 1 eye" in text
    assert "2.0/2" in text and "CPU" in text  # the holder's batches and device
    assert "[  █  ▃  ]  0 0 3 0 0 1 0 0" in text  # objects: 3 answers in 25–50 ms, 1 in 250–500 ms
    assert "this machine" in text and "712" in text and "objects" in text
    assert "EYE s1  from 127.0.0.1:5000" in text and "running" in text


def test_each_model_has_a_latency_histogram_and_its_holder_shows_device_batches_and_queue():
    view = BrainView()
    ready(view)
    status = {"model": "objects", "state": "ready", "host": "gpu:1900", "pid": 9, "device": "GPU:0 (Tesla T4)"}
    view.output("s1", Output("objects", "status", "ready", status), 1.0)
    for i, (latency, batch, queued) in enumerate([(8.0, 1, 0), (30.0, 4, 2), (40.0, 16, 5), (2000.0, 16, 1)]):
        meter = Meter(latency_ms=latency, batch=batch, queued=queued, model="objects", host="gpu:1900")
        view.output("s1", Output("objects", "label", "cup", {}, meter=meter), 2.0 + i)
    state = view.snapshot(10.0)
    (holder,) = state["holders"]
    assert holder["devices"] == {"objects": "GPU:0 (Tesla T4)"}
    assert (holder["batch_mean"], holder["batch_max"], holder["queued"]) == (9.2, 16, 1)
    (model,) = state["models"]
    assert (model["name"], model["host"]) == ("objects", "gpu:1900")
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
        view.output(f"s{s}", Output("session", "status", "ready", {"ready": True, "cortexes": cortexes}), 0.0)
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
    crashed = {"cortex": "objects", "state": "restarting"}
    view.output("s1", Output("session", "error", "The objects cortex crashed; restarting it…", crashed), 12.0)
    assert view.changes > before
