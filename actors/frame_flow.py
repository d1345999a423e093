"""How frames flow through a frame cortex to its model holder, decided without actors:
the pure core of `FrameCortex` (actors/frame_cortex.py is its shell).

Latest frame wins. A cortex works on one frame at a time; while it does, at most one
newer frame waits, and an older waiting frame is dropped and counted. A frame starts
once every model the cortex needs has a holder (the directory's ModelAt).

Every request to a holder has a deadline: a message to a dead holder is lost silently,
so a request still unanswered `timeout_ms` after it went is given up on, with a verdict:
- MOVED: the model has another holder since (or none): the frame is finished, quietly;
- BUSY: the holder, on this machine, used CPU since the request went: it is late, not
  hung, and killing it would make things worse; the frame is skipped, and the eye told
  so at most every BUSY_NOTICE_EVERY_S (it is not an error: nothing to fix);
- HUNG: otherwise (on another host, its CPU time is not ours to read: the directory's
  heartbeat judges): the eye is told, the holder reported as suspect, and where its
  models are is asked again.
When the directory learns first that a holder is gone, it says so (`holder_lost`), and a
frame in flight there becomes an error at once.

Events come in as method calls, with the time where it matters; each returns the
commands for the shell to carry out, in order. Holders are thespian addresses, compared
with ==. A `Start` is always the last command of its list: carrying it out runs the
cortex's own code, which may raise, and then the rest of the list is not carried out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from actors.messages import Stimulus
from actors.models.messages import Inferred, ModelAt

__all__ = [
    "BUSY_NOTICE_EVERY_S",
    "AskWhere",
    "Command",
    "Deliver",
    "FrameFlow",
    "Late",
    "ReportSuspect",
    "Request",
    "Start",
    "Tell",
    "WakeAfter",
    "judge",
    "local_pid",
]

#: Say "the model is busy" at most this often (it is not an error: nothing to fix).
BUSY_NOTICE_EVERY_S = 30.0


# -- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AskWhere:
    """Ask the model directory where `model` is served."""

    model: str


@dataclass(frozen=True)
class Start:
    """Start work on this frame (the cortex's on_frame)."""

    frame: Stimulus


@dataclass(frozen=True)
class WakeAfter:
    """Call `timed_out(request_id, …)` after `seconds`."""

    seconds: float
    request_id: int


@dataclass(frozen=True)
class Deliver:
    """Hand the holder's answer to the cortex (its on_result); if that raises, tell
    `unusable(error)`."""

    tag: Any
    answer: Inferred


@dataclass(frozen=True)
class Tell:
    """An output to the eye."""

    kind: str  # "status" or "error"
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportSuspect:
    """Tell the model directory that `holder` did not answer in time."""

    holder: Any


Command = AskWhere | Start | WakeAfter | Deliver | Tell | ReportSuspect


# -- requests and the verdict on a late one --------------------------------------------------


@dataclass(frozen=True)
class Request:
    """An Infer in flight."""

    model: str  # the configured model whose holder it went to
    tag: Any  # the cortex's, given back with the answer
    holder: Any  # where it went
    pid: int  # the holder's process if on this machine, else 0
    cpu: float | None  # that process's CPU seconds when sent: progress since tells busy from hung


class Late(enum.Enum):
    """What a request that outlived its deadline says of its holder."""

    MOVED = "moved"  # it went to a holder since replaced (moved, or already lost)
    BUSY = "busy"  # the holder used CPU since: working, for many eyes
    HUNG = "hung"  # no progress seen: stopped, dead, or (on another host) unknown


def local_pid(at: ModelAt) -> int:
    """The holder's process, if its CPU time can be read here (another machine's pid
    means nothing here: 0)."""
    return 0 if at.host else at.pid


def judge(request: Request, at: ModelAt | None, cpu_now: float | None) -> Late:
    """The verdict on `request` at its deadline: `at`, where its model is served now;
    `cpu_now`, its holder's CPU seconds now (None: gone, stopped, or not ours to read)."""
    if at is None or request.holder != at.holder:
        return Late.MOVED
    if request.cpu is not None and cpu_now is not None and cpu_now > request.cpu:
        return Late.BUSY
    return Late.HUNG


# -- the state machine ---------------------------------------------------------------------


class FrameFlow:
    """One frame cortex's frames, models and requests, as events in and commands out.

    `name` is the cortex's (for what the eye is told), `models` the [[model]] names it
    needs, `timeout_ms` how long a request may take (the cortex's infer_timeout_ms)."""

    def __init__(self, name: str, models: tuple[str, ...], timeout_ms: int):
        self.name = name
        self.models = models
        self.timeout_ms = timeout_ms
        self.at: dict[str, ModelAt] = {}  # model → where its holder is
        self.busy = False  # a frame is being worked on (requests in flight or not)
        self.frames_over = 0  # frames finished, failed or given up on
        self.waiting: Stimulus | None = None  # the newest frame, waiting for the one in work
        self.dropped = 0  # frames replaced while waiting (or missed): latest frame wins
        self.pending: dict[int, Request] = {}  # request id → the Infer in flight
        self.busy_told = -BUSY_NOTICE_EVERY_S  # when the eye was last told a model is busy

    @property
    def ready(self) -> bool:
        return all(model in self.at for model in self.models)

    def start(self) -> list[Command]:
        return [AskWhere(model) for model in self.models]

    # -- where the models are ----------------------------------------------------------------

    def loading(self, model: str) -> list[Command]:
        return [Tell("status", f"Loading the {model} model…", {"model": model, "state": "loading"})]

    def model_at(self, at: ModelAt) -> list[Command]:
        self.at[at.model] = at
        where = f" on host {at.host}" if at.host else ""
        out: list[Command] = [
            Tell(
                "status",
                f"The {at.model} model is ready{where}.",
                {"model": at.model, "state": "ready", "host": at.host, "pid": at.pid, "device": at.device},
            )
        ]
        self._next(out)
        return out

    def unavailable(self, model: str, reason: str) -> list[Command]:
        return [
            Tell(
                "error",
                f"{self.name} is unavailable: {reason}. Check the [[model]] stanza and run `make models`.",
                {"model": model},
            )
        ]

    def holder_lost(self, holder: Any, reason: str) -> list[Command]:
        """The directory says `holder` is gone: a frame in flight there is an error now."""
        if not any(at.holder == holder for at in self.at.values()):
            return []  # (this cortex already gave up on it)
        in_flight = [request.model for request in self.pending.values() if request.holder == holder]
        out: list[Command] = []
        self._forget(holder, out)
        if not in_flight:
            out.append(Tell("status", f"Models are moving: {reason}.", {"state": "loading"}))
            return out
        model = in_flight[0]
        out.append(
            Tell(
                "error",
                f"The {model} model is unavailable for now: {reason}. This will resume by itself.",
                {"model": model},
            )
        )
        return out + self.frame_done()

    def _forget(self, holder: Any, out: list[Command]) -> None:
        """Drop every model served by `holder` (all models of a holder go with it) and ask again."""
        for model in [m for m, at in self.at.items() if at.holder == holder]:
            del self.at[model]
        out.extend(AskWhere(model) for model in self.models if model not in self.at)

    # -- frames ------------------------------------------------------------------------------

    def arrived(self, stimulus: Stimulus) -> list[Command]:
        if stimulus.kind != "image":
            return []
        if self.waiting is not None:
            self.dropped += 1
        self.waiting = stimulus
        out: list[Command] = []
        self._next(out)
        return out

    def missed(self) -> None:
        """A frame came too late to be read."""
        self.dropped += 1  # (as if a newer frame had replaced it while waiting: it had)

    def frame_done(self) -> list[Command]:
        """The cortex finished its frame (what is still in flight for it is let go)."""
        self.busy = False
        self.frames_over += 1
        self.pending.clear()
        out: list[Command] = []
        self._next(out)
        return out

    def frame_failed(self) -> None:
        """The cortex raised while starting its frame: it works on none."""
        self.busy = False
        self.frames_over += 1

    def _next(self, out: list[Command]) -> None:
        if not self.busy and self.waiting is not None and self.ready:
            out.append(Start(self.waiting))
            self.waiting = None
            self.busy = True

    # -- requests ----------------------------------------------------------------------------

    def sent(self, request_id: int, model: str, tag: Any, cpu: float | None) -> list[Command]:
        """An Infer went to the holder of `model` (KeyError if it has none); `cpu`: that
        holder's CPU seconds now, if on this machine (see local_pid)."""
        at = self.at[model]
        self.pending[request_id] = Request(model, tag, at.holder, local_pid(at), cpu)
        return [WakeAfter(self.timeout_ms / 1000, request_id)]

    def pid_of(self, request_id: int) -> int | None:
        """The process whose CPU time the verdict on this request needs (None: not in flight)."""
        request = self.pending.get(request_id)
        return request.pid if request is not None else None

    def answered(self, answer: Inferred) -> list[Command]:
        request = self.pending.pop(answer.request_id, None)
        if request is None:
            return []  # an answer that came after its timeout
        return [Deliver(request.tag, answer)]

    def unusable(self, error: object) -> list[Command]:
        """The cortex raised on an answer."""
        return [Tell("error", f"{self.name} could not use the model's answer: {error}."), *self.frame_done()]

    def failed(self, request_id: int, error: str) -> list[Command]:
        if self.pending.pop(request_id, None) is None:
            return []  # (including frames the holder skipped after we gave up on them)
        return [Tell("error", f"The model could not look at that frame: {error}."), *self.frame_done()]

    def timed_out(self, request_id: int, cpu_now: float | None, now: float) -> list[Command]:
        """A request's deadline passed; `cpu_now`: the CPU seconds of pid_of(request_id)
        now; `now`: a monotonic clock."""
        request = self.pending.get(request_id)
        if request is None:
            return []  # answered, or its frame finished
        at = self.at.get(request.model)
        verdict = judge(request, at, cpu_now)
        if verdict is Late.MOVED:
            return self.frame_done()
        model = request.model
        out: list[Command] = []
        if verdict is Late.BUSY:
            # Late but working: the holder is busy with many eyes. Killing it would make
            # things worse; skip this frame, and say so now and then (not an error).
            if now - self.busy_told >= BUSY_NOTICE_EVERY_S:
                self.busy_told = now
                out.append(
                    Tell(
                        "status",
                        f"The {model} model is busy: answers are slow and some frames are skipped.",
                        {"model": model, "state": "busy"},
                    )
                )
            return out + self.frame_done()
        if at.host:  # its CPU time is on the other machine: the directory's heartbeat knows it
            out.append(
                Tell(
                    "error",
                    f"The {model} model on host {at.host} did not answer within {self.timeout_ms} ms; "
                    "that frame is skipped and the model is being checked.",
                    {"model": model, "host": at.host},
                )
            )
        else:
            out.append(
                Tell(
                    "error",
                    f"The {model} model did not answer within {self.timeout_ms} ms; it is being "
                    "restarted and this will resume by itself.",
                    {"model": model},
                )
            )
        out.append(ReportSuspect(at.holder))
        self._forget(at.holder, out)
        return out + self.frame_done()
