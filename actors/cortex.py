"""The Cortex base class and the registry of cortex types by name.

A new cortex is one subclass in `actors/cortexes/` plus one `[[cortex]]` stanza:

    class Shout(Cortex, type_name="shout"):
        @dataclass(frozen=True)
        class Params:
            suffix: str = "!"

        def on_stimulus(self, stimulus):
            self.emit("shout", stimulus.text.upper() + self.params.suffix)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

from thespian.actors import ActorExitRequest, WakeupMessage

from actors.dataplane.datagrams import read_datagrams
from actors.dataplane.eye_link import send_output
from actors.dataplane.shared_pixels import read_bytes
from actors.dataplane.watching import Watching
from actors.messages import CortexReady, EyeOutput, Meter, Output, StartCortex, Stimulus
from actors.params import from_dict
from actors.supervision import ErrorBudget, SupervisionPolicy

__all__ = ["Cortex", "REGISTRY", "cortex_type"]

log = logging.getLogger(__name__)

#: cortex type name → class; filled by subclassing Cortex with `type_name=`.
REGISTRY: dict[str, type[Cortex]] = {}


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For cortexes that take no parameters."""


class Cortex(Watching):
    """Turns stimuli into outputs; may emit at any time. Knows nothing of websockets.
    Its stimuli pipe, its async worker's pipe and any file a subclass `watch()`es are
    watched by the Watching base."""

    type_name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    #: The command names it understands, if it subscribes to commands (None: any; the
    #: gateway answers any other command with an error).
    commands: ClassVar[tuple[str, ...] | None] = None
    #: The output kinds it emits that other cortexes of the eye may subscribe to (its
    #: errors are for the eye alone): the config checks each subscription against these.
    emits: ClassVar[tuple[str, ...]] = ()
    #: Whether it says things unasked (a timer of its own, a poller): such a cortex starts
    #: with its eye even when its stanza says `start = "first_stimulus"`.
    pushes: ClassVar[bool] = False
    #: The kinds whose first stimulus starts it, when it waits (None: any it subscribes to),
    #: e.g. a cortex that uses frames only after a command of its own.
    wakes_on: ClassVar[tuple[str, ...] | None] = None
    #: While it waits, the kinds it takes whose latest stimulus it gets when it starts (and
    #: which do not start it).
    holds: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, type_name: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type_name:
            if type_name in REGISTRY and REGISTRY[type_name] is not cls:
                raise TypeError(f"two cortex classes claim the type name {type_name!r}")
            cls.type_name = type_name
            REGISTRY[type_name] = cls

    # -- hooks for subclasses -------------------------------------------------------

    def on_start(self) -> None:
        """Called once with self.name and self.params set; may raise to refuse to start."""

    def on_stimulus(self, stimulus: Stimulus) -> None:
        """Called for each stimulus of a kind this cortex subscribes to."""

    def on_timer(self, payload: Any) -> None:
        """Called when a timer set with `after()` fires."""

    def on_stop(self) -> None:
        """Called when the session ends: close what on_start opened."""

    # -- tools for subclasses ----------------------------------------------------------

    def emit(self, kind: str, text: str, data: dict[str, Any] | None = None, meter: Meter | None = None) -> None:
        """Send an output to this session's eye (solicited or not); `meter` is for /metrics."""
        output = Output(cortex=self.name, kind=kind, text=text, data=data or {}, meter=meter)
        send_output(self._outputs, EyeOutput(self._session_id, output))

    def error(self, text: str, data: dict[str, Any] | None = None) -> None:
        """Tell the eye, in a sentence, what went wrong."""
        self.emit("error", text, data)

    def on_missed(self, stimulus: Stimulus) -> None:
        """A snapshot came too late to be read (SNAPSHOTS_KEPT newer ones were sent since)."""

    def after(self, seconds: float, payload: Any = None) -> None:
        """Call on_timer(payload) once, `seconds` from now."""
        self.wakeupAfter(timedelta(seconds=seconds), payload)

    def async_worker(self):
        """An AsyncWorker whose finished jobs come back to on_async_result, on this actor's thread."""
        from actors.async_worker import AsyncWorker

        if getattr(self, "_async", None) is None:
            self._async = AsyncWorker(f"{self.name}-async")
            self.watch_file(self._async.fileno, self._collect_async)
        return self._async

    def on_async_result(self, tag: Any, result: Any, error: Exception | None) -> None:
        """A job submitted to async_worker() finished."""

    def own_files(self) -> list[int]:
        """This cortex's files, which a child it forks must close: its stimuli pipe (and a
        subclass's own: FrameCortex adds its holder links and pixel files)."""
        pipe = getattr(self, "_stimuli", None)
        return [pipe.fileno()] if pipe is not None else []

    # -- thespian plumbing ------------------------------------------------------------

    def receiveMsg_StartCortex(self, message: StartCortex, sender) -> None:
        for fd in message.inherited:  # (the Session's, not ours: see actors/dataplane/eye_link.py)
            try:
                os.close(fd)
            except OSError:
                pass
        self._stimuli = None
        if message.stimuli_fd >= 0:
            self._stimuli = socket.socket(fileno=message.stimuli_fd)
            self._stimuli.setblocking(False)
            self.watch_file(self._stimuli.fileno(), self._read_pipe)
        self.name = message.spec.name
        self.subscribes = tuple(message.spec.subscribes)  # (the config refuses a kind nobody emits)
        self._outputs = message.outputs
        self._session_id = message.session_id
        self.services = message.services
        self._errors = ErrorBudget(message.policy or SupervisionPolicy())
        try:
            self.params = from_dict(self.Params, message.spec.params, f"cortex.{self.name}.params")
            self.on_start()
        except Exception as exc:  # reported to the Session, which tells the eye
            log.exception("cortex %s failed to start", self.name)
            self.send(sender, CortexReady(self.name, error=f"{type(exc).__name__}: {exc}"))
            return
        self.send(sender, CortexReady(self.name))
        for stimulus in message.first:
            self._handle(stimulus)

    def receiveMsg_Stimulus(self, message: Stimulus, sender) -> None:
        # By message (its pipe was full): what waits in the pipe was sent before it.
        self._read_pipe()
        self._handle(message)

    def _handle(self, message: Stimulus) -> None:
        if message.shared is not None:  # a snapshot in the gateway's memory: read it now
            try:
                message = replace(message, image=read_bytes(message.shared), shared=None)
            except OSError:  # (newer ones have come since: the latest frame wins anyway)
                self.on_missed(message)
                return
        try:
            self.on_stimulus(message)
        except Exception as exc:
            # One bad stimulus must not cost the session its cortex...
            log.exception("cortex %s failed on a %s stimulus", self.name, message.kind)
            self.error(f"{self.name} could not handle that {message.kind}: {exc}")
            self._count_error()

    def _read_pipe(self) -> None:
        pipe = getattr(self, "_stimuli", None)
        if pipe is None:
            return
        stimuli, ended = read_datagrams(pipe)
        if ended:  # (the eye left, or the gateway stopped: the Session ends this cortex soon)
            self.unwatch_file(pipe.fileno())
            pipe.close()
            self._stimuli = None
        for stimulus in stimuli:
            self._handle(stimulus)

    def _collect_async(self) -> None:
        for tag, result, error in self._async.collect():
            try:
                self.on_async_result(tag, result, error)
            except Exception:
                log.exception("cortex %s failed on an async result", self.name)

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        try:
            self.on_stop()
        finally:
            worker = getattr(self, "_async", None)
            if worker is not None:
                self.unwatch_file(worker.fileno)
                worker.close()
                self._async = None

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        try:
            self.on_timer(message.payload)
        except Exception:
            log.exception("cortex %s failed in a timer", self.name)
            self._count_error()

    def _count_error(self) -> None:
        """...but one that fails again and again is restarted by its Session with a fresh state."""
        if self._errors.spent(time.monotonic()):
            log.error(
                "cortex %s failed %d times in %g s; exiting so that it is restarted",
                self.name,
                len(self._errors.errors),
                self._errors.policy.errors_window_s,
            )
            self.send(self.myAddress, ActorExitRequest())


def cortex_type(name: str) -> type[Cortex]:
    """The class registered under `name`, or at `package.module:Class` (a cortex kept
    outside this repository); KeyError if none."""
    import actors.cortexes  # noqa: F401  (imports every cortex module, filling REGISTRY)

    if ":" in name:
        import importlib

        module, _, attribute = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"{name} ({exc})") from None
        if not (isinstance(cls, type) and issubclass(cls, Cortex)):
            raise KeyError(f"{name} is not a Cortex class")
        return cls
    return REGISTRY[name]
