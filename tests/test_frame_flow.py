"""A frame cortex's decisions without actors (actors/frame_flow.py): latest frame wins,
deadlines, the busy-or-hung verdict and lost holders, in milliseconds."""

from actors.frame_flow import (
    BUSY_NOTICE_EVERY_S,
    AskWhere,
    Deliver,
    FrameFlow,
    Late,
    ReportSuspect,
    Request,
    Start,
    Tell,
    WakeAfter,
    judge,
    local_pid,
)
from actors.messages import Stimulus
from actors.models.messages import Inferred, ModelAt

HOLDER, OTHER = "holder-1", "holder-2"  # (addresses are opaque to the flow: compared with ==)


def at(model: str, holder=HOLDER, pid: int = 100, host: str = "") -> ModelAt:
    return ModelAt(model, holder, (416, 416), pid, host)


def frame(n: int) -> Stimulus:
    return Stimulus("image", image=b"jpeg %d" % n, received=float(n))


def answer(request_id: int) -> Inferred:
    return Inferred(request_id, result=["cup"], batch_size=1, infer_ms=20.0)


def ready_flow(*models: str, host: str = "") -> FrameFlow:
    """A flow of the "objects" cortex whose models are all served by HOLDER."""
    flow = FrameFlow("objects", models or ("objects",), timeout_ms=1500)
    assert flow.start() == [AskWhere(model) for model in flow.models]
    for model in flow.models:
        flow.model_at(at(model, host=host))
    return flow


def working(flow: FrameFlow, n: int = 1, request_id: int = 1, cpu: float | None = 5.0) -> None:
    """`frame(n)` starts and its one request goes to the holder."""
    assert flow.arrived(frame(n)) == [Start(frame(n))]
    assert flow.sent(request_id, flow.models[0], "detect", cpu) == [WakeAfter(1.5, request_id)]


def test_a_frame_waits_until_every_model_has_a_holder():
    flow = FrameFlow("faces", ("detector", "embedder"), timeout_ms=5000)
    assert flow.start() == [AskWhere("detector"), AskWhere("embedder")]
    assert flow.loading("detector") == [
        Tell("status", "Loading the detector model…", {"model": "detector", "state": "loading"})
    ]
    assert flow.arrived(frame(1)) == []
    (ready,) = flow.model_at(at("detector"))
    assert ready == Tell(
        "status",
        "The detector model is ready.",
        {"model": "detector", "state": "ready", "host": "", "pid": 100, "device": "CPU"},
    )
    ready, start = flow.model_at(at("embedder", host="gpu-box:1900"))
    assert ready.text == "The embedder model is ready on host gpu-box:1900."
    assert start == Start(frame(1)) and flow.busy


def test_other_stimuli_are_not_frames():
    flow = ready_flow()
    assert flow.arrived(Stimulus("text", "hello")) == [] and not flow.busy and flow.dropped == 0


def test_latest_frame_wins_while_one_is_in_flight_and_drops_are_counted():
    flow = ready_flow()
    working(flow, 1)
    for n in range(2, 6):  # four more while frame 1 is in work: one waits, the older are dropped
        assert flow.arrived(frame(n)) == []
    assert flow.dropped == 3 and flow.waiting == frame(5)
    assert flow.answered(answer(1)) == [Deliver("detect", answer(1))]
    assert flow.frame_done() == [Start(frame(5))]  # the newest, next
    assert flow.frame_done() == [] and not flow.busy and flow.dropped == 3
    flow.missed()  # a snapshot that came too late to be read counts as dropped too
    assert flow.dropped == 4


def test_a_cortex_that_raises_on_its_frame_works_on_none():
    flow = ready_flow()
    assert flow.arrived(frame(1)) == [Start(frame(1))]
    flow.frame_failed()
    assert not flow.busy
    assert flow.arrived(frame(2)) == [Start(frame(2))]  # the next frame starts at once


def test_a_frame_done_lets_go_of_what_is_still_in_flight():
    flow = ready_flow()
    working(flow, 1, request_id=1)
    flow.sent(2, "objects", ("embed", 0), 5.0)
    assert flow.answered(answer(1)) == [Deliver("detect", answer(1))]
    flow.frame_done()
    assert flow.answered(answer(2)) == [] and flow.timed_out(2, 5.0, now=100.0) == []


def test_an_answer_after_its_deadline_is_ignored():
    flow = ready_flow()
    working(flow, 1, cpu=5.0)
    flow.arrived(frame(2))
    skipped = flow.timed_out(1, cpu_now=6.0, now=100.0)  # busy: frame 1 is skipped, frame 2 starts
    assert skipped[-1] == Start(frame(2))
    assert flow.answered(answer(1)) == []  # frame 1's answer, late: frame 2 is not disturbed
    assert flow.busy and flow.failed(1, "skipped") == []


def test_the_verdict_on_a_late_request():
    sent = Request("objects", "detect", HOLDER, pid=100, cpu=5.0)
    assert judge(sent, at("objects"), cpu_now=5.5) is Late.BUSY  # used CPU since: working
    assert judge(sent, at("objects"), cpu_now=5.0) is Late.HUNG  # stood still
    assert judge(sent, at("objects"), cpu_now=None) is Late.HUNG  # gone, a zombie or stopped
    assert judge(sent, at("objects", holder=OTHER), cpu_now=9.0) is Late.MOVED  # served elsewhere since
    assert judge(sent, None, cpu_now=9.0) is Late.MOVED  # lost since, and asked for again
    remote = Request("objects", "detect", HOLDER, pid=0, cpu=None)  # its CPU time is not ours to read
    assert judge(remote, at("objects", host="gpu-box:1900"), cpu_now=None) is Late.HUNG
    assert local_pid(at("objects", pid=7)) == 7 and local_pid(at("objects", pid=7, host="gpu-box:1900")) == 0


def test_a_busy_holder_skips_the_frame_and_the_eye_is_told_now_and_then():
    flow = ready_flow()
    busy = Tell(
        "status",
        "The objects model is busy: answers are slow and some frames are skipped.",
        {"model": "objects", "state": "busy"},
    )
    working(flow, 1, request_id=1, cpu=5.0)
    assert flow.timed_out(1, cpu_now=6.0, now=0.0) == [busy]  # the first time: told
    assert not flow.busy and flow.at  # the holder is kept: not reported, not asked for again
    working(flow, 2, request_id=2, cpu=6.0)
    assert flow.timed_out(2, cpu_now=7.0, now=BUSY_NOTICE_EVERY_S - 0.1) == []  # skipped, quietly
    working(flow, 3, request_id=3, cpu=7.0)
    assert flow.timed_out(3, cpu_now=8.0, now=BUSY_NOTICE_EVERY_S) == [busy]  # once more


def test_a_hung_holder_is_reported_and_asked_for_again():
    flow = ready_flow("detector", "embedder")
    working(flow, 1, cpu=5.0)
    flow.arrived(frame(2))  # waits: the models are asked for again before it can start
    assert flow.timed_out(1, cpu_now=5.0, now=10.0) == [
        Tell(
            "error",
            "The detector model did not answer within 1500 ms; it is being restarted and this will resume by itself.",
            {"model": "detector"},
        ),
        ReportSuspect(HOLDER),
        AskWhere("detector"),  # every model of that holder goes with it
        AskWhere("embedder"),
    ]
    assert flow.at == {} and not flow.busy and flow.waiting == frame(2)
    flow.model_at(at("detector", holder=OTHER))
    assert flow.model_at(at("embedder", holder=OTHER))[-1] == Start(frame(2))  # found again: on we go


def test_a_late_holder_on_another_host_is_checked_by_the_directory():
    flow = ready_flow(host="gpu-box:1900")
    working(flow, 1, cpu=None)
    assert flow.pid_of(1) == 0
    assert flow.timed_out(1, cpu_now=None, now=10.0) == [
        Tell(
            "error",
            "The objects model on host gpu-box:1900 did not answer within 1500 ms; "
            "that frame is skipped and the model is being checked.",
            {"model": "objects", "host": "gpu-box:1900"},
        ),
        ReportSuspect(HOLDER),
        AskWhere("objects"),
    ]


def test_a_request_to_a_holder_replaced_since_only_finishes_its_frame():
    flow = ready_flow()
    working(flow, 1)
    flow.arrived(frame(2))
    flow.model_at(at("objects", holder=OTHER))  # moved while frame 1 was in flight
    assert flow.timed_out(1, cpu_now=None, now=10.0) == [Start(frame(2))]  # no error, no suspect
    assert flow.pid_of(1) is None and flow.timed_out(1, cpu_now=None, now=11.0) == []  # once


def test_a_lost_holder_with_a_frame_in_flight_is_an_error_at_once():
    flow = ready_flow()
    working(flow, 1)
    flow.arrived(frame(2))
    assert flow.holder_lost(HOLDER, "the holder on this machine exited") == [
        AskWhere("objects"),
        Tell(
            "error",
            "The objects model is unavailable for now: the holder on this machine exited. This will resume by itself.",
            {"model": "objects"},
        ),
    ]
    assert not flow.busy and flow.timed_out(1, cpu_now=None, now=10.0) == []  # its timer: nothing left
    assert flow.holder_lost(HOLDER, "again") == []  # already given up on
    assert flow.model_at(at("objects", holder=OTHER))[-1] == Start(frame(2))  # found: the waiting frame


def test_a_lost_holder_with_nothing_in_flight_is_news_of_a_move():
    flow = ready_flow()
    assert flow.holder_lost(HOLDER, "host gpu-box:1900 is lost") == [
        AskWhere("objects"),
        Tell("status", "Models are moving: host gpu-box:1900 is lost.", {"state": "loading"}),
    ]
    assert flow.arrived(frame(1)) == [] and flow.waiting == frame(1)  # waits for a holder
    assert flow.holder_lost(OTHER, "not ours") == []


def test_a_failed_request_or_an_unusable_answer_is_told_and_the_next_frame_starts():
    flow = ready_flow()
    working(flow, 1)
    flow.arrived(frame(2))
    assert flow.failed(1, "the input has the wrong shape") == [
        Tell("error", "The model could not look at that frame: the input has the wrong shape."),
        Start(frame(2)),
    ]
    flow.sent(2, "objects", "detect", 5.0)
    assert flow.answered(answer(2)) == [Deliver("detect", answer(2))]
    assert flow.unusable(ValueError("no boxes")) == [
        Tell("error", "objects could not use the model's answer: no boxes.")
    ]
    assert not flow.busy


def test_an_unknown_model_is_told_with_a_way_out():
    flow = FrameFlow("objects", ("objects",), timeout_ms=1500)
    assert flow.unavailable("objects", "no [[model]] named 'objects' (known: none)") == [
        Tell(
            "error",
            "objects is unavailable: no [[model]] named 'objects' (known: none). "
            "Check the [[model]] stanza and run `make models`.",
            {"model": "objects"},
        )
    ]
