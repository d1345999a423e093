"""The ModelDirectory actor: the shell around `Placement` (actors/models/placement.py).

It turns thespian's messages into the placement's events, and carries out the commands
that come back: create a holder (here or pinned to a joined host), ask one to exit, kill
a hung one, start or ping a host's beacon, answer cortexes, set a timer. Every decision
is the placement's; here, only addresses, clocks and sends.

It also tells its watchers (the gateway's live view, WatchModels) every holder and host
after each change: the view is told by the one that knows, not guessed from outputs.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import timedelta

from thespian.actors import (
    ActorExitRequest,
    ActorSystemConventionUpdate,
    ActorTypeDispatcher,
    ChildActorExited,
    PoisonMessage,
    WakeupMessage,
)

from actors.messages import Ping, Pong
from actors.models.holder import ModelHolder
from actors.models.host_beacon import HostBeacon
from actors.models.messages import (
    Heartbeat,
    HolderLost,
    HoldersNow,
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
    StartDirectory,
    WatchModels,
    WhereIsModel,
)
from actors.models.placement import (
    HOST,
    OFFERS,
    Command,
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
    pinned_to,
)

__all__ = ["ModelDirectory"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Beat:
    """Timer: the heartbeat tick."""


BEAT = Beat()


@dataclass(frozen=True)
class PlaceAgain:
    """Timer: the backoff of a group whose holders keep dying is over."""

    group: int


class ModelDirectory(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.start: StartDirectory | None = None
        self.placement: Placement | None = None
        # (Thespian's addresses are not hashable: the way back is a search, over a handful.)
        self.holders: dict[int, object] = {}  # holder key → address, until the actor exits
        self.beacons: dict[str, object] = {}  # host name → its beacon's address
        self.stopping = False
        self.watchers: list = []  # who is told every holder and host at each change (WatchModels)
        self.told: HoldersNow | None = None

    def _do(self, commands: list[Command]) -> None:
        for command in commands:
            match command:
                case CreateHolder(key, host, models):
                    pin = {"targetActorRequirements": pinned_to(host)} if host else {}
                    address = self.createActor(ModelHolder, **pin)
                    self.holders[key] = address
                    self.send(address, LoadModels(models, self.start.settings))
                case ExitHolder(key) if key in self.holders:  # (gone already otherwise)
                    self.send(self.holders[key], ActorExitRequest())
                case KillHere(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                case KillThere(host, pid) if host in self.beacons:
                    self.send(self.beacons[host], KillHolder(pid))
                case StartBeacon(host):
                    address = self.createActor(HostBeacon, targetActorRequirements=pinned_to(host))
                    self.beacons[host] = address
                case PingHost(host, pids) if host in self.beacons:
                    self.send(self.beacons[host], Heartbeat(host, pids, self.start.settings.leader_lost_after_s))
                case WakeAfter(seconds, group):
                    self.wakeupAfter(timedelta(seconds=seconds), PlaceAgain(group))
                case TellAt(client, model, key, input_size, pid, host, device, link):
                    self.send(client, ModelAt(model, self.holders[key], input_size, pid, host, device, link))
                case TellLoading(client, model):
                    self.send(client, ModelLoading(model))
                case TellUnavailable(client, model, reason):
                    self.send(client, ModelUnavailable(model, reason))
                case TellLost(client, key, reason):
                    self.send(client, HolderLost(self.holders[key], reason))
        self._tell_watchers()

    def _tell_watchers(self) -> None:
        now = self.placement.seen()
        if now != self.told:
            self.told = now
            for watcher in self.watchers:
                self.send(watcher, now)

    def receiveMsg_WatchModels(self, message: WatchModels, sender) -> None:
        if message.watcher not in self.watchers:
            self.watchers.append(message.watcher)
        if self.placement is not None:  # (else it is told at the first change)
            self.send(message.watcher, self.placement.seen())

    def receiveMsg_PoisonMessage(self, message: PoisonMessage, sender) -> None:
        if isinstance(message.poisonMessage, HoldersNow):  # (a watcher that is gone)
            self.watchers = [watcher for watcher in self.watchers if watcher != sender]

    def _holder(self, address) -> int | None:
        return next((key for key, known in self.holders.items() if known == address), None)

    def receiveMsg_StartDirectory(self, message: StartDirectory, sender) -> None:
        self.start = message
        self.placement = Placement(message.models, message.settings)
        self.notifyOnSystemRegistrationChanges(True)
        self._do(self.placement.start())
        self.wakeupAfter(timedelta(seconds=message.settings.heartbeat_every_s), BEAT)

    def receiveMsg_ModelsLoaded(self, message: ModelsLoaded, sender) -> None:
        if (key := self._holder(sender)) is not None:
            self._do(self.placement.holder_loaded(key, message))

    def receiveMsg_ModelsFailed(self, message: ModelsFailed, sender) -> None:
        if (key := self._holder(sender)) is not None:
            self._do(self.placement.holder_failed(key, message.error))

    def receiveMsg_WhereIsModel(self, message: WhereIsModel, sender) -> None:
        self._do(self.placement.asked(sender, message.model))

    def receiveMsg_ModelsNotNeeded(self, message: ModelsNotNeeded, sender) -> None:
        self.placement.forget(sender)

    def receiveMsg_HolderSuspect(self, message: HolderSuspect, sender) -> None:
        if (key := self._holder(message.holder)) is not None:
            self._do(self.placement.holder_suspect(key, time.monotonic()))

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender) -> None:
        if self.stopping:
            return
        address = message.childAddress
        if (key := self._holder(address)) is not None:
            self._do(self.placement.holder_exited(key, time.monotonic()))
            del self.holders[key]
            return
        host = next((name for name, beacon in self.beacons.items() if beacon == address), None)
        if host is not None:
            del self.beacons[host]
            self._do(self.placement.beacon_exited(host))

    def receiveMsg_ActorSystemConventionUpdate(self, message: ActorSystemConventionUpdate, sender) -> None:
        name = message.remoteCapabilities.get(HOST)
        if not name:
            return  # an actor system that was not started by `brain join`
        if message.remoteAdded:
            offered = tuple(message.remoteCapabilities.get(OFFERS) or ())
            self._do(self.placement.host_joined(name, offered, time.monotonic()))
        else:
            self._do(self.placement.host_left(name, time.monotonic()))

    def receiveMsg_HostAlive(self, message: HostAlive, sender) -> None:
        self._do(self.placement.host_alive(message.host, message.cpu_seconds, time.monotonic()))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        if self.stopping:
            return
        if message.payload == BEAT:
            self._do(self.placement.tick(time.monotonic()))
            self.wakeupAfter(timedelta(seconds=self.start.settings.heartbeat_every_s), BEAT)
        elif isinstance(message.payload, PlaceAgain):
            self._do(self.placement.place_again(message.payload.group))

    def receiveMsg_Ping(self, message: Ping, sender) -> None:
        self.send(sender, Pong(os.getpid()))

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        self.stopping = True
