"""Where model holders run, decided without actors: the ModelDirectory's pure core.

Models with the same `requires` share one holder (one TensorFlow process). A holder
that requires nothing runs on this machine. One that requires, say, "gpu" runs on the
least loaded joined host offering it (`brain join --capabilities gpu`); while no such
host is up it runs here, and when one comes up it moves there: the new holder loads
first, then its cortexes are switched over, then the old one exits.

Liveness. A message to a dead actor is lost silently, and thespian notices a dead
convention member only after ~22 minutes, so:
- every joined host runs a HostBeacon, pinged at each `tick`; a host silent for
  `host_dead_after_s` is lost: the cortexes using its holders are told at once (a frame
  in flight becomes an `error` output) and the holders are re-created elsewhere;
- cortexes time every request out and report the holder as suspect; a suspect that used
  no CPU since the last heartbeat is hung: its process is killed and re-created.

Every actor system of a Cortical convention advertises its own name (HOST) and what it
offers (OFFERS, e.g. ["gpu", "faces"]). An actor is pinned to a host with
`targetActorRequirements={HOST: name}`; thespian asks the actor class's
`actorSystemCapabilityCheck`, which is `runs_on` below.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from actors.models.messages import HolderSeen, HoldersNow, HolderState, HostNow, ModelsLoaded
from actors.specs import HolderSettings, ModelSpec
from actors.supervision import Restarts, never_give_up

__all__ = [
    "HERE",
    "HOST",
    "OFFERS",
    "Command",
    "CreateHolder",
    "ExitHolder",
    "HostState",
    "KillHere",
    "KillThere",
    "Liveness",
    "PingHost",
    "Placement",
    "StartBeacon",
    "TellAt",
    "TellLoading",
    "TellLost",
    "TellUnavailable",
    "WakeAfter",
    "best_host",
    "making_progress",
    "offers",
    "pinned_to",
    "runs_on",
]

HOST = "Cortical Host"  # capability: this actor system's name, "address:admin_port"
OFFERS = "Cortical Offers"  # capability: list of what it offers, e.g. ["gpu"]

log = logging.getLogger("actors.models.directory")  # (what it decides is the directory's to say)


def pinned_to(host: str) -> dict:
    """targetActorRequirements that place an actor on one named actor system."""
    return {HOST: host}


def runs_on(capabilities: dict, requirements: dict | None) -> bool:
    wanted = (requirements or {}).get(HOST)
    return wanted is None or wanted == capabilities.get(HOST)


def offers(capabilities: dict, required: tuple[str, ...]) -> bool:
    return set(required) <= set(capabilities.get(OFFERS) or ())


class HostState(enum.Enum):
    """A joined host, as the leader's directory sees it."""

    JOINING = "joining"  # joined the convention; its beacon has not answered yet
    UP = "up"  # its beacon answers
    LOST = "lost"  # silent too long (or it left): its holders were re-created elsewhere


def best_host(requires: tuple[str, ...], up_hosts: dict[str, tuple[str, ...]], load: dict[str, int]) -> str:
    """Where a holder that requires `requires` should run: the least loaded host that is
    up and offers all of it (`up_hosts`: name → what it offers; `load`: name → holders
    there), or "" (this machine) when it requires nothing or no host fits."""
    if not requires:
        return ""
    candidates = [name for name, offered in up_hosts.items() if set(requires) <= set(offered)]
    return min(candidates, key=lambda name: load.get(name, 0)) if candidates else ""


def making_progress(samples: list[tuple[float, float]], now: float, window_s: float) -> bool:
    """Whether a process whose CPU time was sampled as (when, seconds) used CPU over the
    last `window_s`: a late holder that does is busy, not hung. With too little history,
    say yes (a hung one is caught at its next timeout, once there is); with no samples at
    all (gone, a zombie or stopped), no."""
    if not samples:
        return False
    old = [cpu for when, cpu in samples if when <= now - window_s]
    return not old or samples[-1][1] > old[-1]


@dataclass
class Liveness:
    """One joined host's heartbeat, as a state machine (the time is passed in).

    `beat(now)` runs at every heartbeat tick and says whether the host is now lost
    (silent for `dead_after_s`) and whether to ping it; `heard(now)` records an answer
    and says whether the host has just come up (first answer, or back from a partition).
    A lost host is still pinged, every `lost_ping_every` ticks: often enough that its
    beacon does not give this leader up."""

    joined: float
    dead_after_s: float
    lost_ping_every: int = 1
    state: HostState = HostState.JOINING
    last_heard: float | None = None
    beats: int = 0

    def beat(self, now: float) -> tuple[str, bool]:
        """(why it is lost now, or ""; whether to ping it)."""
        self.beats += 1
        silent = now - (self.last_heard if self.last_heard is not None else self.joined)
        lost = ""
        if self.state is not HostState.LOST and silent > self.dead_after_s:
            lost = f"silent for {silent:.1f} s"
            self.state = HostState.LOST
        ping = self.state is not HostState.LOST or self.beats % self.lost_ping_every == 0
        return lost, ping

    def heard(self, now: float) -> bool:
        self.last_heard = now
        came_up = self.state is not HostState.UP
        self.state = HostState.UP
        return came_up

    def lose(self) -> None:
        self.state = HostState.LOST


# -- the state machine ---------------------------------------------------------------------
#
# Events come in as method calls with the time; each returns the commands for the shell
# (the ModelDirectory actor) to carry out, in order. Holders are named by a number this
# machine hands out; clients (cortexes) are opaque tokens compared with ==.

HERE = ""  # the host name of this machine in placements
MAX_HOLDER_BACKOFF_S = 60.0


@dataclass(frozen=True)
class CreateHolder:
    holder: int
    host: str  # HERE or a joined host's name
    models: tuple[ModelSpec, ...]


@dataclass(frozen=True)
class ExitHolder:
    """Ask it to exit, after the requests it already has."""

    holder: int


@dataclass(frozen=True)
class KillHere:
    """A hung holder on this machine never reads an exit request: end its process."""

    pid: int


@dataclass(frozen=True)
class KillThere:
    """The beacon of `host` ends a hung holder's process there."""

    host: str
    pid: int


@dataclass(frozen=True)
class StartBeacon:
    host: str


@dataclass(frozen=True)
class PingHost:
    host: str
    pids: tuple[int, ...]  # its holders' processes, whose CPU time it reports


@dataclass(frozen=True)
class WakeAfter:
    """Call `place_again(group)` after `seconds` (the backoff of holders that keep dying)."""

    seconds: float
    group: int


@dataclass(frozen=True)
class TellAt:
    """Tell a client where its model is served."""

    client: Any
    model: str
    holder: int
    input_size: tuple[int, int]
    pid: int
    host: str
    device: str = "CPU"
    link: str = ""


@dataclass(frozen=True)
class TellLoading:
    client: Any
    model: str


@dataclass(frozen=True)
class TellUnavailable:
    client: Any
    model: str
    reason: str


@dataclass(frozen=True)
class TellLost:
    """Tell a client its holder is gone: a frame in flight there becomes an error."""

    client: Any
    holder: int
    reason: str


Command = (
    CreateHolder
    | ExitHolder
    | KillHere
    | KillThere
    | StartBeacon
    | PingHost
    | WakeAfter
    | TellAt
    | TellLoading
    | TellUnavailable
    | TellLost
)


@dataclass
class _Holder:
    key: int
    host: str
    loaded: ModelsLoaded | None = None

    @property
    def pid(self) -> int:
        return self.loaded.pid if self.loaded else 0


@dataclass
class _Group:
    """The models that share one holder because they require the same things."""

    requires: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    restarts: Restarts  # holders that died before they finished loading
    current: _Holder | None = None
    incoming: _Holder | None = None  # loading on a better host; replaces `current` once loaded
    failed: str = ""
    askers: list = field(default_factory=list)  # (client, model) waiting for a loaded holder
    lost: int = 0  # its holders lost so far, and why and where the last one was (the live view)
    last_lost: str = ""
    lost_on: str = HERE

    @property
    def names(self) -> str:
        return ", ".join(m.name for m in self.models)


@dataclass
class _Host:
    offers: tuple[str, ...]
    liveness: Liveness
    cpu: dict = field(default_factory=dict)  # pid → [(when, CPU seconds)], the last few seconds
    # Holders given up on while the host was unreachable: they may still run there, and
    # are ended when the host is heard again.
    orphans: list[_Holder] = field(default_factory=list)


def _where(host: str) -> str:
    return f"host {host}" if host else "this machine"


class Placement:
    """Where each group of models is served, as events in and commands out."""

    def __init__(self, models: tuple[ModelSpec, ...], settings: HolderSettings):
        self.settings = settings
        by_requires: dict[tuple[str, ...], list[ModelSpec]] = {}
        for spec in models:
            by_requires.setdefault(tuple(sorted(spec.requires)), []).append(spec)
        # Two holders in a row may die before loading (a host lost, a move) without a wait;
        # after that, a model that crashes TensorFlow at load is retried ever more slowly.
        policy = never_give_up(settings.restart_delay_s, MAX_HOLDER_BACKOFF_S)
        self.groups = [_Group(req, tuple(specs), Restarts(policy, free=2)) for req, specs in by_requires.items()]
        self.hosts: dict[str, _Host] = {}
        self.clients: list = []  # (client, model): told when its holder goes
        self._keys = 0

    # -- start and placing -----------------------------------------------------------------

    def start(self) -> list[Command]:
        out: list[Command] = []
        for group in self.groups:
            self._place(group, out)
        return out

    def _new_holder(self, group: _Group, host: str, out: list) -> _Holder:
        self._keys += 1
        out.append(CreateHolder(self._keys, host, group.models))
        log.info("loading %s on %s", group.names, _where(host))
        return _Holder(self._keys, host)

    def _best_host(self, requires: tuple[str, ...]) -> str:
        up = {name: host.offers for name, host in self.hosts.items() if host.liveness.state is HostState.UP}
        load: dict[str, int] = {}
        for group in self.groups:
            for holder in (group.current, group.incoming):
                if holder is not None:
                    load[holder.host] = load.get(holder.host, 0) + 1
        return best_host(requires, up, load)

    def _place(self, group: _Group, out: list) -> None:
        host = self._best_host(group.requires)
        if group.requires and host == HERE:
            log.warning(
                "no joined host offers %s: the holder of %s runs on this machine until one joins",
                " and ".join(group.requires),
                group.names,
            )
        group.failed = ""
        group.current = self._new_holder(group, host, out)

    def place_again(self, group: int) -> list[Command]:
        out: list[Command] = []
        chosen = self.groups[group]
        if chosen.current is None and chosen.incoming is None:
            self._place(chosen, out)
        return out

    def _find(self, key: int) -> tuple[_Group | None, str]:
        for group in self.groups:
            for slot in ("current", "incoming"):
                holder = getattr(group, slot)
                if holder is not None and holder.key == key:
                    return group, slot
        return None, ""

    # -- holders report --------------------------------------------------------------------

    def holder_loaded(self, key: int, loaded: ModelsLoaded) -> list[Command]:
        out: list[Command] = []
        group, slot = self._find(key)
        if group is None:
            return out
        holder = getattr(group, slot)
        holder.loaded = loaded
        group.failed = ""  # (an earlier holder may have failed where this one did not)
        group.restarts.reset()  # back off only while holders die before they finish loading
        log.info(
            "%s ready on %s, pid %d (%.1f s, peak RSS %.0f MB)",
            ", ".join(loaded.inputs),
            _where(holder.host),
            loaded.pid,
            loaded.seconds,
            loaded.peak_rss_mb,
        )
        if slot == "incoming":
            old, group.current, group.incoming = group.current, holder, None
            log.info(
                "moved the holder of %s from %s to %s",
                ", ".join(loaded.inputs),
                _where(old.host) if old else "nowhere",
                _where(holder.host),
            )
            group.askers = []  # (every asker is a client, and is told now)
            for client, model in self._clients_of(group):
                self._answer(client, model, group, out)
            if old is not None:
                out.append(ExitHolder(old.key))  # after the requests it already has
            return out
        askers, group.askers = group.askers, []
        for asker, model in askers:
            self._answer(asker, model, group, out)
        return out

    def holder_failed(self, key: int, error: str) -> list[Command]:
        out: list[Command] = []
        group, slot = self._find(key)
        if group is None:
            return out
        where = _where(getattr(group, slot).host)
        log.error("the holder on %s could not load %s: %s", where, group.names, error)
        if slot == "incoming":
            out.append(ExitHolder(key))
            self._incoming_gone(group, out)  # keep serving from where it is
            return out
        group.failed = f"on {where}, {error}"
        askers, group.askers = group.askers, []
        for asker, model in askers:
            self._answer(asker, model, group, out)
        return out

    def holder_exited(self, key: int, now: float) -> list[Command]:
        out: list[Command] = []
        group, slot = self._find(key)
        if group is None:
            return out  # replaced already
        if slot == "incoming":
            self._incoming_gone(group, out)
        else:
            self._lose(group, f"the holder on {_where(group.current.host)} exited", now, out)
        return out

    def holder_suspect(self, key: int, now: float) -> list[Command]:
        """A cortex's request to this holder timed out."""
        out: list[Command] = []
        group, slot = self._find(key)
        if group is None or slot != "current" or group.current.loaded is None:
            return out  # already replaced, or still loading
        holder = group.current
        if holder.host == HERE:
            out.append(KillHere(holder.pid))
        else:
            host = self.hosts.get(holder.host)
            if host is not None and self._busy(host, holder.pid, now):
                log.info("holder pid %d on %s is late but busy; leaving it be", holder.pid, holder.host)
                return out
            if host is not None and host.liveness.state is HostState.UP:
                out.append(KillThere(holder.host, holder.pid))
        self._lose(group, f"the holder on {_where(holder.host)} (pid {holder.pid}) stopped answering", now, out)
        return out

    def _busy(self, host: _Host, pid: int, now: float) -> bool:
        return making_progress(host.cpu.get(pid, []), now, self.settings.host_dead_after_s)

    def _incoming_gone(self, group: _Group, out: list) -> None:
        group.incoming = None
        if group.current is None:  # it was to take over from a lost holder: place anew
            self._place(group, out)

    def _lose(self, group: _Group, why: str, now: float, out: list) -> None:
        old, group.current = group.current, None
        verdict = group.restarts.crashed(now)
        target = _where(group.incoming.host if group.incoming else self._best_host(group.requires))
        reason = f"{why}; it is being re-created on {target}"
        group.lost, group.last_lost, group.lost_on = group.lost + 1, reason, old.host
        log.error("%s (restart %d)", reason, verdict.count)
        told = []
        for client, _ in self._clients_of(group):
            if client not in told:
                told.append(client)
                out.append(TellLost(client, old.key, reason))
        host = self.hosts.get(old.host)
        if old.host == HERE or (host is not None and host.liveness.state is HostState.UP):
            out.append(ExitHolder(old.key))
        elif host is not None:  # unreachable, maybe not dead: end it when its host is heard again
            host.orphans.append(old)
        if group.incoming is not None:
            return  # the holder loading on a better host takes over when loaded
        if verdict.after_s:
            out.append(WakeAfter(verdict.after_s, self.groups.index(group)))
        else:
            self._place(group, out)

    # -- clients ask -----------------------------------------------------------------------

    def asked(self, client, model: str) -> list[Command]:
        out: list[Command] = []
        group = next((g for g in self.groups if any(m.name == model for m in g.models)), None)
        if group is None:
            known = ", ".join(m.name for g in self.groups for m in g.models) or "none"
            out.append(TellUnavailable(client, model, f"no [[model]] named {model!r} (known: {known})"))
            return out
        if (client, model) not in self.clients:
            self.clients.append((client, model))
        if group.current is None or (group.current.loaded is None and not group.failed):
            group.askers.append((client, model))
            out.append(TellLoading(client, model))
        else:
            self._answer(client, model, group, out)
        return out

    def forget(self, client) -> None:
        """The client (a cortex that is stopping) needs no model any more."""
        self.clients = [(c, model) for c, model in self.clients if c != client]

    def _answer(self, client, model: str, group: _Group, out: list) -> None:
        if group.failed:
            out.append(TellUnavailable(client, model, f"the models could not be loaded: {group.failed}"))
            return
        holder = group.current
        out.append(
            TellAt(
                client,
                model,
                holder.key,
                holder.loaded.inputs[model],
                holder.pid,
                holder.host,
                holder.loaded.devices.get(model, "CPU"),
                holder.loaded.link,
            )
        )

    def _clients_of(self, group: _Group) -> list:
        names = {m.name for m in group.models}
        return [(client, model) for client, model in self.clients if model in names]

    # -- what the live view shows ----------------------------------------------------------

    def seen(self) -> HoldersNow:
        """Every holder (a group with none now shows as LOST) and every joined host."""
        holders = []
        for group in self.groups:
            names = tuple(m.name for m in group.models)
            lost = {"lost": group.lost, "last_lost": group.last_lost}
            for holder, incoming in ((group.current, False), (group.incoming, True)):
                if holder is None:
                    continue
                if holder.loaded is not None:
                    devices = {name: holder.loaded.devices.get(name, "CPU") for name in names}
                    state = {"state": HolderState.READY, "pid": holder.pid, "devices": devices}
                elif group.failed and not incoming:
                    state = {"state": HolderState.FAILED, "error": group.failed}
                else:
                    state = {"state": HolderState.LOADING}
                holders.append(HolderSeen(holder.key, holder.host, names, incoming=incoming, **state, **lost))
            if group.current is None and group.incoming is None:
                holders.append(HolderSeen(0, group.lost_on, names, HolderState.LOST, **lost))
        hosts = tuple(HostNow(name, host.liveness.state.value) for name, host in sorted(self.hosts.items()))
        return HoldersNow(tuple(holders), hosts)

    # -- hosts -----------------------------------------------------------------------------

    def host_joined(self, name: str, offered: tuple[str, ...], now: float) -> list[Command]:
        log.info("host %s joined, offering %s", name, ", ".join(offered) or "nothing")
        settings = self.settings
        # A lost host is still pinged, less often, in case it was a partition: often
        # enough that its beacon does not give this leader up (leader_lost_after_s).
        lost_every = max(1, int(settings.leader_lost_after_s / 2 / settings.heartbeat_every_s))
        self.hosts[name] = _Host(offered, Liveness(now, settings.host_dead_after_s, lost_every))
        return [StartBeacon(name), PingHost(name, ())]

    def host_left(self, name: str, now: float) -> list[Command]:
        out: list[Command] = []
        if name in self.hosts:
            self._host_lost(name, "it left", now, out)
            del self.hosts[name]
        return out

    def host_alive(self, name: str, cpu_seconds: dict[int, float], now: float) -> list[Command]:
        """Its beacon answered a ping, with the CPU time of the processes asked about."""
        out: list[Command] = []
        host = self.hosts.get(name)
        if host is None:
            return out
        keep_after = now - 2 * self.settings.host_dead_after_s
        host.cpu = {
            pid: [s for s in host.cpu.get(pid, []) if s[0] >= keep_after] + [(now, cpu)]
            for pid, cpu in cpu_seconds.items()
        }
        if not host.liveness.heard(now):
            return out
        log.info("host %s is up", name)
        for orphan in host.orphans:
            log.warning("ending the holder (pid %s) given up on while host %s was unreachable", orphan.pid or "?", name)
            out.append(ExitHolder(orphan.key))
            if orphan.pid:
                out.append(KillThere(name, orphan.pid))
        host.orphans = []
        for group in self.groups:
            better = group.requires and set(group.requires) <= set(host.offers)
            if better and group.incoming is None and (group.current is None or group.current.host == HERE):
                group.incoming = self._new_holder(group, name, out)
        return out

    def beacon_exited(self, name: str) -> list[Command]:
        host = self.hosts.get(name)
        if host is None or host.liveness.state is HostState.LOST:
            return []
        # Its host is still there (it would be lost otherwise): a new beacon, before the
        # silence costs the host its holders.
        log.warning("the beacon on host %s exited; starting another", name)
        return [StartBeacon(name), PingHost(name, ())]

    def _host_lost(self, name: str, why: str, now: float, out: list) -> None:
        host = self.hosts[name]
        host.liveness.lose()
        log.error("host %s is lost: %s", name, why)
        for group in self.groups:
            if group.current is not None and group.current.host == name:
                self._lose(group, f"the holder's host {name} is lost ({why})", now, out)
            if group.incoming is not None and group.incoming.host == name:
                host.orphans.append(group.incoming)
                self._incoming_gone(group, out)

    def tick(self, now: float) -> list[Command]:
        """The heartbeat: lose silent hosts, ping the others."""
        out: list[Command] = []
        for name, host in list(self.hosts.items()):
            lost, ping = host.liveness.beat(now)
            if lost:
                self._host_lost(name, lost, now, out)
            if ping:
                pids = tuple(
                    h.pid
                    for g in self.groups
                    for h in (g.current, g.incoming)
                    if h is not None and h.host == name and h.pid
                )
                out.append(PingHost(name, pids))
        return out
