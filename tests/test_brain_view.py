"""The live view of the brain, pure (brain/brain_view.py) and as `brain top` renders it."""

from actors.messages import Meter, Output
from brain.brain_view import BrainView
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
    assert holders == [
        {"models": ["faces"], "host": "this machine", "pid": 7, "pss_mb": 700.0},
        {"models": ["objects"], "host": "gpu:1900", "pid": 9, "pss_mb": None},
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
    text = render({**view.snapshot(2.0, {7: 712.4}), "uptime_s": 42})
    assert "Cortical brain · up 42 s · 1 eyes" in text
    assert "this machine" in text and "712" in text and "objects" in text
    assert "EYE s1  from 127.0.0.1:5000" in text and "running" in text
