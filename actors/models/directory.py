"""The ModelDirectory actor: places model holders on hosts, tells cortexes where they
are, and replaces a holder whose process or host is gone.

Models with the same `requires` share one holder (one TensorFlow process). A holder
that requires nothing runs on this machine. One that requires, say, "gpu" runs on the
least loaded joined host offering it (`brain join --capabilities gpu`); while no such
host is up it runs here, and when one comes up it moves there: the new holder loads
first, then its cortexes are switched over, then the old one exits.

Liveness. A message to a dead actor is lost silently (README, "Supervision and limits"), and thespian notices a
dead convention member only after ~22 minutes, so:
- every joined host runs a HostBeacon that is pinged every `heartbeat_every_s`; a host
  silent for `host_dead_after_s` is lost: the cortexes using its holders are told at
  once (HolderLost: a frame in flight becomes an `error` output) and the holders are
  re-created on another host or here;
- cortexes time every request out and report the holder as suspect; a suspect that
  used no CPU since the last heartbeat is hung: its process is killed and re-created.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from thespian.actors import (
    ActorExitRequest,
    ActorSystemConventionUpdate,
    ActorTypeDispatcher,
    ChildActorExited,
    WakeupMessage,
)

from actors.messages import (
    Heartbeat,
    HolderLost,
    HolderSuspect,
    HostAlive,
    KillHolder,
    LoadModels,
    ModelAt,
    ModelLoading,
    ModelsFailed,
    ModelsLoaded,
    ModelsNotNeeded,
    ModelUnavailable,
    Ping,
    Pong,
    StartDirectory,
    WhereIsModel,
)
from actors.models.holder import ModelHolder
from actors.models.host_beacon import HostBeacon
from actors.models.placement import (
    HOST,
    OFFERS,
    HostState,
    Liveness,
    best_host,
    making_progress,
    offers,
    pinned_to,
)
from actors.specs import ModelSpec
from actors.supervision import Restarts, never_give_up

__all__ = ["ModelDirectory"]

log = logging.getLogger(__name__)

HERE = ""  # the host name of this machine in placements
MAX_HOLDER_BACKOFF_S = 60.0


@dataclass
class _Holder:
    address: Any
    host: str
    loaded: ModelsLoaded | None = None


@dataclass
class _Group:
    """The models that share one holder because they require the same things."""

    requires: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    current: _Holder | None = None
    incoming: _Holder | None = None  # loading on a better host; replaces `current` once loaded
    failed: str = ""
    restarts: Restarts | None = None  # holders that died before they finished loading
    askers: list = field(default_factory=list)  # (sender, model) waiting for a loaded holder


@dataclass
class _Host:
    offers: tuple[str, ...]
    beacon: Any
    liveness: Liveness
    cpu: dict = field(default_factory=dict)  # pid → [(when, CPU seconds)], the last few seconds
    # Holders given up on while the host was unreachable (address, pid): they may still
    # run there, and are ended when the host is heard again.
    orphans: list = field(default_factory=list)


@dataclass(frozen=True)
class Beat:
    """Timer: ping the joined hosts."""


BEAT = Beat()


@dataclass(frozen=True)
class PlaceAgain:
    """Timer: the backoff of a group whose holders keep dying is over."""

    group: int  # its index in self.groups


def _where(host: str) -> str:
    return f"host {host}" if host else "this machine"


class ModelDirectory(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.start: StartDirectory | None = None
        self.groups: list[_Group] = []
        self.hosts: dict[str, _Host] = {}
        self.clients: list = []  # cortexes that asked for a model: told when its holder goes
        self.stopping = False

    # -- start and placement -----------------------------------------------------------

    def receiveMsg_StartDirectory(self, message: StartDirectory, sender) -> None:
        self.start = message
        by_requires: dict[tuple[str, ...], list[ModelSpec]] = {}
        for spec in message.models:
            by_requires.setdefault(tuple(sorted(spec.requires)), []).append(spec)
        # Two holders in a row may die before loading (a host lost, a move) without a wait;
        # after that, a model that crashes TensorFlow at load is retried ever more slowly.
        policy = never_give_up(message.settings.restart_delay_s, MAX_HOLDER_BACKOFF_S)
        self.groups = [
            _Group(requires, tuple(specs), restarts=Restarts(policy, free=2)) for requires, specs in by_requires.items()
        ]
        self.notifyOnSystemRegistrationChanges(True)
        for group in self.groups:
            self._place(group)
        self.wakeupAfter(timedelta(seconds=message.settings.heartbeat_every_s), BEAT)

    def _best_host(self, requires: tuple[str, ...]) -> str:
        up = {name: host.offers for name, host in self.hosts.items() if host.liveness.state is HostState.UP}
        load: dict[str, int] = {}
        for group in self.groups:
            for holder in (group.current, group.incoming):
                if holder is not None:
                    load[holder.host] = load.get(holder.host, 0) + 1
        return best_host(requires, up, load)

    def _new_holder(self, group: _Group, host: str) -> _Holder:
        address = (
            self.createActor(ModelHolder, targetActorRequirements=pinned_to(host))
            if host
            else self.createActor(ModelHolder)
        )
        self.send(address, LoadModels(group.models, self.start.settings))
        log.info("loading %s on %s", ", ".join(m.name for m in group.models), _where(host))
        return _Holder(address, host)

    def _place(self, group: _Group) -> None:
        host = self._best_host(group.requires)
        if group.requires and host == HERE:
            log.warning(
                "no joined host offers %s: the holder of %s runs on this machine until one joins",
                " and ".join(group.requires),
                ", ".join(m.name for m in group.models),
            )
        group.failed = ""
        group.current = self._new_holder(group, host)

    def _find(self, address) -> tuple[_Group | None, str]:
        for group in self.groups:
            for slot in ("current", "incoming"):
                holder = getattr(group, slot)
                if holder is not None and holder.address == address:
                    return group, slot
        return None, ""

    # -- holders report ----------------------------------------------------------------

    def receiveMsg_ModelsLoaded(self, message: ModelsLoaded, sender) -> None:
        group, slot = self._find(sender)
        if group is None:
            return
        holder = getattr(group, slot)
        holder.loaded = message
        group.failed = ""  # (an earlier holder may have failed where this one did not)
        group.restarts.reset()  # back off only while holders die before they finish loading
        log.info(
            "%s ready on %s, pid %d (%.1f s, peak RSS %.0f MB)",
            ", ".join(message.inputs),
            _where(holder.host),
            message.pid,
            message.seconds,
            message.peak_rss_mb,
        )
        if slot == "incoming":
            old, group.current, group.incoming = group.current, holder, None
            log.info(
                "moved the holder of %s from %s to %s",
                ", ".join(message.inputs),
                _where(old.host) if old else "nowhere",
                _where(holder.host),
            )
            group.askers = []  # (every asker is a client, and was just told)
            for client, model in self._clients_of(group):
                self._answer(client, model, group)
            if old is not None:
                self.send(old.address, ActorExitRequest())  # after the requests it already has
            return
        askers, group.askers = group.askers, []
        for asker, model in askers:
            self._answer(asker, model, group)

    def receiveMsg_ModelsFailed(self, message: ModelsFailed, sender) -> None:
        group, slot = self._find(sender)
        if group is None:
            return
        log.error(
            "the holder on %s could not load %s: %s",
            _where(getattr(group, slot).host),
            ", ".join(m.name for m in group.models),
            message.error,
        )
        if slot == "incoming":
            self.send(group.incoming.address, ActorExitRequest())
            self._incoming_gone(group)  # keep serving from where it is
            return
        group.failed = f"on {_where(getattr(group, slot).host)}, {message.error}"
        askers, group.askers = group.askers, []
        for asker, model in askers:
            self._answer(asker, model, group)

    # -- cortexes ask ------------------------------------------------------------------

    def _group_of(self, model: str) -> _Group | None:
        return next((g for g in self.groups if any(m.name == model for m in g.models)), None)

    def receiveMsg_WhereIsModel(self, message: WhereIsModel, sender) -> None:
        group = self._group_of(message.model)
        if group is None:
            known = ", ".join(m.name for g in self.groups for m in g.models) or "none"
            self.send(sender, ModelUnavailable(message.model, f"no [[model]] named {message.model!r} (known: {known})"))
            return
        if not any(client == sender and model == message.model for client, model in self.clients):
            self.clients.append((sender, message.model))
        if group.current is None or (group.current.loaded is None and not group.failed):
            group.askers.append((sender, message.model))
            self.send(sender, ModelLoading(message.model))
            return
        self._answer(sender, message.model, group)

    def receiveMsg_ModelsNotNeeded(self, message: ModelsNotNeeded, sender) -> None:
        self.clients = [(client, model) for client, model in self.clients if client != sender]

    def _answer(self, asker, model: str, group: _Group) -> None:
        if group.failed:
            self.send(asker, ModelUnavailable(model, f"the models could not be loaded: {group.failed}"))
            return
        holder = group.current
        self.send(asker, ModelAt(model, holder.address, holder.loaded.inputs[model], holder.loaded.pid, holder.host))

    def _clients_of(self, group: _Group) -> list:
        names = {m.name for m in group.models}
        return [(client, model) for client, model in self.clients if model in names]

    # -- losing holders ----------------------------------------------------------------

    def receiveMsg_HolderSuspect(self, message: HolderSuspect, sender) -> None:
        group, slot = self._find(message.holder)
        if group is None or slot != "current" or group.current.loaded is None:
            return  # already replaced, or still loading
        holder = group.current
        pid = holder.loaded.pid
        if holder.host == HERE:
            # A hung holder would never read an exit request: end its process.
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            host = self.hosts.get(holder.host)
            if host is not None and self._busy(host, pid):
                log.info("holder pid %d on %s is late but busy; leaving it be", pid, holder.host)
                return
            if host is not None and host.liveness.state is HostState.UP:
                self.send(host.beacon, KillHolder(pid))
        self._lose(group, f"the holder on {_where(holder.host)} (pid {pid}) stopped answering")

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        if self.stopping:
            return
        group, slot = self._find(message.childAddress)
        if group is None:
            self._beacon_exited(message.childAddress)
            return  # (or a holder already replaced)
        if slot == "incoming":
            self._incoming_gone(group)
            return
        self._lose(group, f"the holder on {_where(group.current.host)} exited")

    def _incoming_gone(self, group: _Group) -> None:
        group.incoming = None
        if group.current is None:  # it was to take over from a lost holder: place anew
            self._place(group)

    def _busy(self, host: _Host, pid: int) -> bool:
        return making_progress(host.cpu.get(pid, []), time.monotonic(), self.start.settings.host_dead_after_s)

    def _lose(self, group: _Group, why: str) -> None:
        old, group.current = group.current, None
        verdict = group.restarts.crashed(time.monotonic())
        target = _where(group.incoming.host if group.incoming else self._best_host(group.requires))
        reason = f"{why}; it is being re-created on {target}"
        log.error("%s (restart %d)", reason, verdict.count)
        told = []
        for client, _ in self._clients_of(group):
            if not any(client == t for t in told):
                told.append(client)
                self.send(client, HolderLost(old.address, reason))
        host = self.hosts.get(old.host)
        if old.host == HERE or (host is not None and host.liveness.state is HostState.UP):
            self.send(old.address, ActorExitRequest())
        elif host is not None:  # unreachable, maybe not dead: end it when its host is heard again
            host.orphans.append((old.address, old.loaded.pid if old.loaded else 0))
        if group.incoming is not None:
            return  # the holder loading on a better host takes over when loaded
        if verdict.after_s:
            self.wakeupAfter(timedelta(seconds=verdict.after_s), PlaceAgain(self.groups.index(group)))
        else:
            self._place(group)

    # -- hosts -------------------------------------------------------------------------

    def receiveMsg_ActorSystemConventionUpdate(self, message: ActorSystemConventionUpdate, sender) -> None:
        name = message.remoteCapabilities.get(HOST)
        if not name:
            return  # an actor system that was not started by `brain join`
        if message.remoteAdded:
            offered = tuple(message.remoteCapabilities.get(OFFERS) or ())
            log.info("host %s joined, offering %s", name, ", ".join(offered) or "nothing")
            beacon = self.createActor(HostBeacon, targetActorRequirements=pinned_to(name))
            settings = self.start.settings
            # A lost host is still pinged, less often, in case it was a partition: often
            # enough that its beacon does not give this leader up (leader_lost_after_s).
            lost_every = max(1, int(settings.leader_lost_after_s / 2 / settings.heartbeat_every_s))
            self.hosts[name] = _Host(
                offered, beacon, Liveness(time.monotonic(), settings.host_dead_after_s, lost_every)
            )
            self.send(beacon, Heartbeat(name, (), self.start.settings.leader_lost_after_s))
        elif name in self.hosts:
            self._host_lost(name, "it left")
            del self.hosts[name]

    def receiveMsg_HostAlive(self, message: HostAlive, sender) -> None:
        host = self.hosts.get(message.host)
        if host is None:
            return
        now = time.monotonic()
        keep_after = now - 2 * self.start.settings.host_dead_after_s
        host.cpu = {
            pid: [s for s in host.cpu.get(pid, []) if s[0] >= keep_after] + [(now, cpu)]
            for pid, cpu in message.cpu_seconds.items()
        }
        if not host.liveness.heard(now):
            return
        log.info("host %s is up", message.host)
        for address, pid in host.orphans:
            log.warning(
                "ending the holder (pid %s) given up on while host %s was unreachable", pid or "?", message.host
            )
            self.send(address, ActorExitRequest())
            if pid:
                self.send(host.beacon, KillHolder(pid))
        host.orphans = []
        for group in self.groups:
            better = group.requires and offers({OFFERS: host.offers}, group.requires)
            if better and group.incoming is None and (group.current is None or group.current.host == HERE):
                group.incoming = self._new_holder(group, message.host)

    def _beacon_exited(self, address) -> None:
        for name, host in self.hosts.items():
            if host.beacon == address and host.liveness.state is not HostState.LOST:
                # Its host is still there (it would be lost otherwise): a new beacon, before
                # the silence costs the host its holders.
                log.warning("the beacon on host %s exited; starting another", name)
                host.beacon = self.createActor(HostBeacon, targetActorRequirements=pinned_to(name))
                self.send(host.beacon, Heartbeat(name, (), self.start.settings.leader_lost_after_s))

    def _host_lost(self, name: str, why: str) -> None:
        host = self.hosts[name]
        host.liveness.lose()
        log.error("host %s is lost: %s", name, why)
        for group in self.groups:
            if group.current is not None and group.current.host == name:
                self._lose(group, f"the holder's host {name} is lost ({why})")
            if group.incoming is not None and group.incoming.host == name:
                host.orphans.append((group.incoming.address, 0))
                self._incoming_gone(group)

    def _heartbeat(self) -> None:
        settings = self.start.settings
        now = time.monotonic()
        for name, host in list(self.hosts.items()):
            lost, ping = host.liveness.beat(now)
            if lost:
                self._host_lost(name, lost)
            if not ping:
                continue
            pids = tuple(
                h.loaded.pid
                for g in self.groups
                for h in (g.current, g.incoming)
                if h is not None and h.host == name and h.loaded is not None
            )
            self.send(host.beacon, Heartbeat(name, pids, settings.leader_lost_after_s))
        self.wakeupAfter(timedelta(seconds=settings.heartbeat_every_s), BEAT)

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        if self.stopping:
            return
        if message.payload == BEAT:
            self._heartbeat()
        elif isinstance(message.payload, PlaceAgain):
            group = self.groups[message.payload.group]
            if group.current is None and group.incoming is None:
                self._place(group)

    def receiveMsg_Ping(self, message: Ping, sender) -> None:
        self.send(sender, Pong(os.getpid()))

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        self.stopping = True
