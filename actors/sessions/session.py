"""The Session actor: one per connected eye; owns and supervises that eye's cortexes.

It creates one Cortex per `[[cortex]]` stanza, routes each stimulus to the cortexes
subscribed to its kind, tells the eye when the brain is ready, and restarts a cortex
that crashed (killed, or raising again and again) with backoff, up to a number of
restarts in a window.

It routes by handing the gateway a pipe to each cortex with the kinds that cortex
takes (a Route): the gateway then writes each stimulus straight down the right pipes,
and the Session wakes only for what they cannot take (actors/dataplane/eye_link.py says why).
Cortexes send their outputs straight to the eye.

A cortex that waits (its stanza's `wakes_on`: brain/config.py) gets its pipe at connect
too, but no process: the Session watches the pipe's other end, and the first stimulus in it
starts the cortex, which gets that stimulus with its start (and, first, the latest of the
kinds it `holds`: learned's frame before a teach.sample). An eye that never uses a cortex
never pays for its process.

It tells the gateway its cortexes' states (CortexesNow) at each change, for the live view.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

from thespian.actors import ActorExitRequest, ChildActorExited, PoisonMessage, WakeupMessage

from actors.cortex import cortex_type
from actors.dataplane.datagrams import read_datagrams
from actors.dataplane.eye_link import (
    MAX_FRAME_BYTES,
    Frames,
    open_inputs,
    open_routes,
    read_inputs,
    send_output,
    send_route,
    stimuli_pair,
)
from actors.dataplane.watching import Watching
from actors.messages import (
    CloseSession,
    CortexesNow,
    CortexReady,
    CortexSeen,
    CortexState,
    EyeOutput,
    Meter,
    OpenSession,
    Output,
    Rerouted,
    Route,
    RoutesGiven,
    SessionClosing,
    SessionUp,
    StartCortex,
    Stimulus,
)
from actors.preload import before_fork
from actors.specs import CortexSpec
from actors.supervision import GiveUp, Restarts, SupervisionPolicy

__all__ = ["Session"]

log = logging.getLogger(__name__)

#: Stimuli kept for a Session that has not yet received its OpenSession (the gateway
#: and the SessionSupervisor are different senders, so their messages may cross).
EARLY_STIMULI_KEPT = 64


@dataclass(frozen=True)
class RestartCortex:
    """Timer: the backoff of a crashed cortex is over."""

    name: str


class Session(Watching):
    def __init__(self) -> None:
        super().__init__()
        self.open: OpenSession | None = None
        self.parent = None
        self.cortexes: dict[str, object] = {}  # name → address of the running cortex
        self.starting: set[str] = set()
        self.closing = False
        self.unrouted_kinds_told: set[str] = set()
        self.restarts: dict[str, Restarts] = {}  # cortex name → its crashes
        self.told_ready = False
        self.early: list[Stimulus] = []
        self.inputs = None  # the socket the gateway writes to us on (what no pipe takes)
        self.routes = None  # our connection to the gateway's routes socket
        self.rerouted: set[str] = set()  # cortexes whose pipe was full: their stimuli come here
        self.generations: dict[str, int] = {}  # cortex → how many times it was started
        self.frames = Frames(MAX_FRAME_BYTES)
        self.waiting: dict[
            str, tuple[socket.socket, socket.socket]
        ] = {}  # cortex → its pipe's two ends, until it starts
        self.woken: set[str] = set()  # cortexes started by their first stimulus, until they are ready
        self.held: dict[str, Stimulus] = {}  # waiting cortex → the latest stimulus of a kind it holds
        self.seen: dict[str, CortexSeen] = {}  # cortex → its state, as the live view shows it
        self.told: tuple[CortexSeen, ...] = ()  # what the gateway was last told of them

    def _read_inputs(self) -> None:
        """From the gateway (actors/dataplane/eye_link.py), handled as if they were messages."""
        try:
            received, ended = read_inputs(self.inputs, self.frames)
        except ValueError:
            log.exception("the gateway's stimuli could not be read")
            received, ended = [], True
        for item in received:
            try:  # (one that raised must not cost the eye what came after it)
                if isinstance(item, Stimulus):
                    self._take_stimulus(item)
                elif isinstance(item, Rerouted):
                    self._rerouted(item)
                elif isinstance(item, CloseSession):
                    self._close()
            except Exception:
                session = self.open.session_id if self.open else "?"
                log.exception("session %s could not pass on a %s", session, type(item).__name__)
        if ended:
            self.unwatch_file(self.inputs.fileno())
            self.inputs.close()
            self.inputs = None

    @property
    def policy(self) -> SupervisionPolicy:
        return self.open.policy or SupervisionPolicy()

    def receiveMsg_OpenSession(self, message: OpenSession, sender) -> None:
        self.open, self.parent = message, sender
        # Lead a process group of our own: the cortexes forked from here join it, so a
        # supervisor can end them all if this process is killed outright.
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        self.send(sender, SessionUp(message.session_id, os.getpgid(0)))
        if message.outputs is not None and message.outputs.routes:
            try:
                self.inputs = open_inputs(message.outputs, message.session_id)
                self.routes = open_routes(message.outputs)
            except OSError:  # (its eye then hears that the session could not start)
                log.warning("session %s: the gateway's sockets did not answer", message.session_id)
                for sock in (self.inputs, self.routes):
                    if sock is not None:
                        sock.close()
                self.inputs = self.routes = None
        if self.inputs is not None:
            self.watch_file(self.inputs.fileno(), self._read_inputs)
        for spec in message.cortexes:
            if spec.wakes_on and self.routes is not None:
                self._wait(spec)
            else:
                self._start(spec)
        if self.routes is not None:
            send_route(self.routes, RoutesGiven(message.session_id))
        self._maybe_ready()
        early, self.early = self.early, []
        for stimulus in early:
            self._take_stimulus(stimulus)

    def _wait(self, spec: CortexSpec) -> None:
        """Give the gateway the cortex's pipe for the kinds that start it, and watch the other end."""
        ours, theirs = stimuli_pair()
        generation = self.generations[spec.name] = self.generations.get(spec.name, 0) + 1
        send_route(self.routes, Route(self.open.session_id, spec.name, spec.wakes_on + spec.holds, generation), ours)
        theirs.setblocking(False)
        self.waiting[spec.name] = (ours, theirs)  # (ours is given again, for every kind, when it starts)
        self.watch_file(theirs.fileno(), lambda: self._woken(spec))
        self._set(spec.name, CortexState.IDLE)

    def _woken(self, spec: CortexSpec, rerouted: Stimulus | None = None) -> None:
        """Stimuli wait in a waiting cortex's pipe (and `rerouted`, which came after them as
        a message: the pipe was full): the first that wakes it starts it, with what came after
        it and the latest it holds. Another cortex's command is dropped (the cortex it is for
        has its own pipe)."""
        ours, theirs = self.waiting[spec.name]
        stimuli, ended = read_datagrams(theirs)
        if rerouted is not None:
            stimuli.append(rerouted)
        for index, stimulus in enumerate(stimuli):
            if wakes(spec, stimulus):
                held = self.held.pop(spec.name, None)
                self.unwatch_file(theirs.fileno())
                del self.waiting[spec.name]
                self.woken.add(spec.name)
                self._start(spec, (ours, theirs), (*([held] if held else []), *stimuli[index:]))
                return
            if stimulus.kind in spec.holds:
                self.held[spec.name] = stimulus  # (the latest wins: a snapshot in the gateway's memory)
        if ended:  # (the gateway closed its end: the eye left, and the close comes; stop reading it)
            self.unwatch_file(theirs.fileno())

    def _start(
        self, spec: CortexSpec, pipe: tuple[socket.socket, socket.socket] | None = None, first: tuple = ()
    ) -> None:
        """Start the cortex's process; `pipe`: the one it waited on; `first`: the stimuli read
        off it, which it handles before what follows in the pipe."""
        before_fork()
        if pipe is not None:
            ours, theirs = pipe
        else:
            ours, theirs = stimuli_pair() if self.routes is not None else (None, None)
        try:
            address = self.createActor(cortex_type(spec.type))  # (forks: the child has both ends now)
        except BaseException:
            for end in (ours, theirs):
                if end is not None:
                    end.close()
            raise
        inherited, theirs_fd = self._own_files(), -1
        if pipe is None:
            self.generations[spec.name] = self.generations.get(spec.name, 0) + 1
        generation = self.generations[spec.name]
        if ours is not None:
            inherited.append(ours.fileno())
            theirs_fd = theirs.fileno()
            theirs.close()  # (the number stays valid in the child, which has its own copy)
            route = Route(self.open.session_id, spec.name, tuple(spec.subscribes), generation)
            send_route(self.routes, route, ours)
            ours.close()  # (the gateway has its own copy now, or is gone)
            self.rerouted.discard(spec.name)
        self.cortexes[spec.name] = address
        self.starting.add(spec.name)
        self._set(spec.name, CortexState.STARTING)
        self.send(
            address,
            StartCortex(
                spec,
                self.open.session_id,
                self.open.outputs,
                self.open.services,
                self.open.policy,
                theirs_fd,
                tuple(inherited),
                first,
            ),
        )

    def _own_files(self) -> list[int]:
        """What a new cortex inherits of this Session and must close: its sockets to the
        gateway, and the pipes of the cortexes that still wait."""
        ends = [end for pair in self.waiting.values() for end in pair]
        return [sock.fileno() for sock in (self.inputs, self.routes, *ends) if sock is not None]

    def receiveMsg_Rerouted(self, message: Rerouted, sender) -> None:
        self._rerouted(message)

    def _rerouted(self, message: Rerouted) -> None:
        """The gateway could not write to a cortex's pipe (full, or the stimulus too big):
        that cortex's stimuli come here from now on, and go on as messages."""
        if message.generation != self.generations.get(message.cortex):
            return  # for a start of it that has ended: missed, as while it was restarted
        if message.cortex not in self.rerouted:
            self.rerouted.add(message.cortex)
            log.warning(
                "session %s: the %s cortex's pipe is full; its stimuli go as messages",
                self.open.session_id if self.open else "?",
                message.cortex,
            )
        if message.cortex in self.waiting and not self.closing:  # (it may wake it)
            self._woken(self._spec(message.cortex), message.stimulus)
            return
        address = self.cortexes.get(message.cortex)
        if address is not None and not self.closing:
            self.send(address, message.stimulus)

    def _spec(self, name: str) -> CortexSpec:
        return next(spec for spec in self.open.cortexes if spec.name == name)

    def receiveMsg_CortexReady(self, message: CortexReady, sender) -> None:
        self.starting.discard(message.name)
        if message.error:
            text = f"The {message.name} cortex could not start: {message.error}. Check its [[cortex]] stanza in the config."
            self._set(message.name, CortexState.FAILED, text)
            self._tell_eye("error", text, {"cortex": message.name, "state": "failed"})
        else:
            self._set(message.name, CortexState.RUNNING)
            if message.name in self.woken:
                self.woken.discard(message.name)
                self._tell_eye(
                    "status",
                    f"The {message.name} cortex started.",
                    {"started": message.name, "cortex": message.name, "state": "running"},
                )
            elif message.name in self.restarts and self.told_ready:
                self._tell_eye(
                    "status",
                    f"The {message.name} cortex is back.",
                    {"restarted": message.name, "cortex": message.name, "state": "running"},
                    Meter(restarted=message.name),
                )
        self._maybe_ready()

    def _maybe_ready(self) -> None:
        if self.starting:
            return
        if self.closing:
            self._exit()
            return
        if self.told_ready:
            return
        self.told_ready = True
        names = [spec.name for spec in self.open.cortexes]
        self._tell_eye(
            "status",
            "The brain is ready.",
            {"ready": True, "session": self.open.session_id, "cortexes": names, **self.open.ready_data},
        )

    def receiveMsg_Stimulus(self, message: Stimulus, sender) -> None:
        self._take_stimulus(message)

    def _take_stimulus(self, message: Stimulus) -> None:
        """A stimulus no pipe took (by message, or on the inputs socket)."""
        if self.open is None:
            self.early = (self.early + [message])[-EARLY_STIMULI_KEPT:]
            return
        if self.closing:
            return
        # With routes, the gateway sends what any running cortex takes: one that comes here
        # is for a cortex being restarted (it misses it; later ones would overtake it).
        routed = False
        for spec in self.open.cortexes if self.routes is None else ():
            if message.kind in spec.subscribes and spec.name in self.cortexes:
                self.send(self.cortexes[spec.name], message)
                routed = True
        if routed or any(message.kind in spec.subscribes for spec in self.open.cortexes):
            return  # (a subscribed cortex being restarted misses this one)
        # A snapshot (or pose) stream with no cortex for it would flood the eye: say it once.
        if message.kind in ("image", "pose") and message.kind in self.unrouted_kinds_told:
            return
        self.unrouted_kinds_told.add(message.kind)
        what = f"command {message.text!r}" if message.kind == "command" else f"{message.kind}"
        self._tell_eye(
            "error",
            f"No cortex in this brain's config takes {what}; add one that subscribes to it.",
            {"kind": message.kind},
        )

    def receiveMsg_CloseSession(self, message: CloseSession, sender) -> None:
        self._close()

    def _close(self) -> None:
        """The eye left (by message, or on the inputs socket)."""
        self.closing = True
        for ours, theirs in self.waiting.values():
            self.unwatch_file(theirs.fileno())
            ours.close()
            theirs.close()
        self.waiting.clear()
        self.held.clear()
        if self.parent is not None:
            self.send(self.parent, SessionClosing(self.open.session_id))
        # Exiting while children are still being created orphans them (measured: they then survive shutdown()):
        # wait until every cortex has confirmed it started.
        if not self.starting:
            self._exit()

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        if self.closing or self.open is None:
            return
        for name, address in list(self.cortexes.items()):
            if address == message.childAddress:
                del self.cortexes[name]
                self.starting.discard(name)
                self._crashed(name)
                self._maybe_ready()

    def _crashed(self, name: str) -> None:
        policy = self.policy
        verdict = self.restarts.setdefault(name, Restarts(policy)).crashed(time.monotonic())
        if isinstance(verdict, GiveUp):
            log.error(
                "session %s: the %s cortex ended unexpectedly, %d times in %g s; it stays off",
                self.open.session_id,
                name,
                verdict.count,
                policy.window_s,
            )
            text = (
                f"The {name} cortex keeps crashing ({verdict.count} times in {policy.window_s:g} s); "
                "it stays off in this session. Reconnect to try again."
            )
            self._set(name, CortexState.OFF, text)
            self._tell_eye("error", text, {"cortex": name, "state": "off"})
            return
        # (killed, or out of memory: a process that dies leaves no traceback of its own)
        log.warning(
            "session %s: the %s cortex ended unexpectedly; restarting it in %g s",
            self.open.session_id,
            name,
            verdict.after_s,
        )
        text = (
            f"The {name} cortex crashed; restarting it in {verdict.after_s:g} s (restart "
            f"{verdict.count} of at most {policy.max_restarts} in {policy.window_s:g} s)."
        )
        self._set(name, CortexState.RESTARTING, text, restarted=True)
        self._tell_eye("error", text, {"cortex": name, "restarting": name, "state": "restarting"})
        self.wakeupAfter(timedelta(seconds=verdict.after_s), RestartCortex(name))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        due = message.payload
        if not isinstance(due, RestartCortex) or self.closing or due.name in self.cortexes:
            return
        spec = next(s for s in self.open.cortexes if s.name == due.name)
        self._start(spec)

    def receiveMsg_PoisonMessage(self, message: PoisonMessage, sender) -> None:
        log.warning("a message could not be delivered or handled: %r", message.poisonMessage)

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        # thespian stops the children after this returns.
        pass

    def _exit(self) -> None:
        self.send(self.myAddress, ActorExitRequest())

    def _set(self, name: str, state: CortexState, error: str | None = None, restarted: bool = False) -> None:
        """A cortex's new state (`error`: None keeps the last one), told at the next _tell_states()."""
        before = self.seen.get(name) or CortexSeen(name, state)
        self.seen[name] = CortexSeen(name, state, before.restarts + restarted, before.error if error is None else error)

    def receiveMessage(self, message, sender):
        watched = super().receiveMessage(message, sender)
        # Any handler may change a cortex's state: the live view hears of it here, once.
        self._tell_states()
        return watched

    def _tell_states(self) -> None:
        """The gateway's live view learns the cortexes' states from here, as they change."""
        now = tuple(self.seen.values())
        if now != self.told and self.open is not None and self.open.outputs is not None:
            self.told = now
            send_output(self.open.outputs, CortexesNow(self.open.session_id, now))

    def _tell_eye(self, kind: str, text: str, data: dict, meter: Meter | None = None) -> None:
        output = Output(cortex="session", kind=kind, text=text, data=data, meter=meter)
        send_output(self.open.outputs, EyeOutput(self.open.session_id, output))


def wakes(spec: CortexSpec, stimulus: Stimulus) -> bool:
    """Whether `stimulus`, read off a waiting cortex's pipe, starts it: a kind it wakes on,
    and, for a command, one its type understands."""
    if stimulus.kind not in spec.wakes_on:
        return False
    understood = cortex_type(spec.type).commands
    return stimulus.kind != "command" or understood is None or stimulus.text in understood
