"""What the brain is doing, as people see it in `GET /brain/state` and `brain top`: a pure
state machine (the time is passed in), told by the actors that own each part.

- The holders, their models, devices, hosts and pids: the model directory's HoldersNow,
  sent at each change and at once when the gateway starts watching. So the view is right
  with no eye connected, and after every eye has left.
- Each session's cortexes and their states (starting, running, restarting, off, failed)
  and restarts: its Session's CortexesNow.
- The measurements of each output (its Meter), which only the outputs carry: outputs a
  second, p50/p95 latency and frames dropped per cortex; per model a latency histogram,
  batch sizes and queue. And the last warnings (error outputs, holders lost or failed).

Bounded: a few hundred numbers per cortex and per model, whatever the traffic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from actors.messages import CortexesNow, CortexSeen, Output
from actors.models.messages import HolderSeen, HoldersNow, HolderState

__all__ = ["BrainView", "histogram", "HISTOGRAM_MS", "THIS_MACHINE"]

WINDOW_S = 10.0  # outputs a second are counted over this window
LATENCIES_KEPT = 200
BATCHES_KEPT = 50
WARNINGS_KEPT = 20
# Upper edges of the per-model latency histogram, in ms (the last bin is everything above).
HISTOGRAM_MS = (10, 25, 50, 100, 250, 500, 1000)
THIS_MACHINE = "this machine"


@dataclass
class _Cortex:
    told: CortexSeen | None = None  # its Session's last word on it (not shown until there is one)
    last_error: str = ""
    outputs: deque = field(default_factory=lambda: deque(maxlen=2000))  # times
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    dropped: int = 0


@dataclass
class _Model:
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    batches: deque = field(default_factory=lambda: deque(maxlen=BATCHES_KEPT))
    queued: int = 0


@dataclass
class _Session:
    remote: str
    opened: float
    eye: str  # its name (?eye=kitchen, or eye-<n>)
    cortexes: dict[str, _Cortex] = field(default_factory=dict)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def histogram(values, edges=HISTOGRAM_MS) -> list[int]:
    """How many of `values` fall at or under each edge (and above the last): len(edges) + 1 bins."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[next((i for i, edge in enumerate(edges) if value <= edge), len(edges))] += 1
    return counts


def _where(host: str) -> str:
    return host or THIS_MACHINE


class BrainView:
    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.placed = HoldersNow(())  # the model directory's last word
        self.models: dict[str, _Model] = {}  # measurements by model name
        self.changes = 0  # counts what a snapshot must show at once (not the counters)
        self.warnings: deque = deque(maxlen=WARNINGS_KEPT)

    # -- told by the gateway, the Sessions and the model directory -------------------------

    def opened(self, session: str, remote: str, now: float, eye: str = "") -> None:
        self.sessions[session] = _Session(remote, now, eye)
        self.changes += 1

    def closed(self, session: str) -> None:
        self.sessions.pop(session, None)
        self.changes += 1

    def cortexes_now(self, told: CortexesNow) -> None:
        seen = self.sessions.get(told.session_id)
        if seen is None:
            return  # (its eye has left)
        for cortex in told.cortexes:
            known = seen.cortexes.setdefault(cortex.name, _Cortex())
            if cortex.error and (known.told is None or cortex.error != known.told.error):
                known.last_error = cortex.error
            known.told = cortex
        self.changes += 1

    def holders_now(self, told: HoldersNow, now: float) -> None:
        before = {holder.models: holder for holder in self.placed.holders}
        for holder in told.holders:
            was = before.get(holder.models)
            if holder.lost > (was.lost if was else 0):
                self._warn(now, "", "model directory", holder.last_lost[:1].upper() + holder.last_lost[1:] + ".")
            if holder.state is HolderState.FAILED and (was is None or was.error != holder.error):
                names = ", ".join(holder.models)
                self._warn(
                    now,
                    "",
                    "model directory",
                    f"The holder of {names} could not load them ({holder.error}): check their [[model]] "
                    "stanzas (kind, path), then restart the brain.",
                )
        self.placed = told
        self.changes += 1

    # -- measured, output by output --------------------------------------------------------

    def output(self, session: str, output: Output, now: float) -> None:
        seen = self.sessions.get(session)
        if seen is None:
            return
        # (Kept for any name, shown only for the cortexes its Session has told of: one may
        # answer before the Session's word on it arrives, which comes another way.)
        cortex = seen.cortexes.get(output.cortex)
        if cortex is None:
            cortex = seen.cortexes[output.cortex] = _Cortex()
        cortex.outputs.append(now)
        meter = output.meter
        if meter is not None:
            if meter.latency_ms is not None:
                cortex.latencies.append(meter.latency_ms)
            if meter.frames_dropped is not None:
                cortex.dropped = meter.frames_dropped
            if meter.model:
                model = self.models.get(meter.model)
                if model is None:
                    model = self.models[meter.model] = _Model()
                if meter.latency_ms is not None:
                    model.latencies.append(meter.latency_ms)
                if meter.batch is not None:
                    model.batches.append(meter.batch)
                if meter.queued is not None:
                    model.queued = meter.queued
        if output.kind == "error":
            cortex.last_error = output.text
            self._warn(now, session, output.cortex, output.text)

    def _warn(self, now: float, session: str, who: str, text: str) -> None:
        self.warnings.append({"at": round(now, 3), "session": session, "cortex": who, "text": text})
        self.changes += 1

    # -- shown -----------------------------------------------------------------------------

    def local_pids(self) -> list[int]:
        """The processes of the holders that run on this machine (their memory is read here)."""
        return [h.pid for h in self.placed.holders if not h.host and h.pid]

    def snapshot(self, now: float, pss_mb: dict[int, float] | None = None) -> dict:
        """The JSON of GET /brain/state. `pss_mb`: the memory of local processes by pid."""
        pss_mb = pss_mb or {}
        sessions = []
        for session, seen in self.sessions.items():
            cortexes = []
            for name, c in seen.cortexes.items():
                if c.told is None:
                    continue
                recent = [t for t in c.outputs if now - t <= WINDOW_S]
                latencies = list(c.latencies)
                cortexes.append(
                    {
                        "name": name,
                        "state": c.told.state.value,
                        "restarts": c.told.restarts,
                        "last_error": c.last_error,
                        "outputs_per_s": round(len(recent) / WINDOW_S, 2),
                        "p50_ms": _percentile(latencies, 0.5),
                        "p95_ms": _percentile(latencies, 0.95),
                        "frames_dropped": c.dropped,
                    }
                )
            sessions.append(
                {
                    "id": session,
                    "eye": seen.eye,
                    "remote": seen.remote,
                    "uptime_s": round(now - seen.opened),
                    "cortexes": cortexes,
                }
            )
        holders = [self._holder(holder, pss_mb) for holder in self.placed.holders]
        # Each model once, where it is served (a holder loading on a better host serves
        # nothing yet): its latencies, which the outputs measured.
        serving: dict[str, HolderSeen] = {}
        for holder in sorted(self.placed.holders, key=lambda h: h.incoming):
            for name in holder.models:
                serving.setdefault(name, holder)
        models = []
        for name, holder in serving.items():
            latencies = list((self.models.get(name) or _Model()).latencies)
            models.append(
                {
                    "name": name,
                    "host": _where(holder.host),
                    "state": holder.state.value,
                    "device": holder.devices.get(name),
                    "p50_ms": _percentile(latencies, 0.5),
                    "p95_ms": _percentile(latencies, 0.95),
                    "histogram": histogram(latencies),
                }
            )
        host_states = {THIS_MACHINE: "up", **{host.name: host.state for host in self.placed.hosts}}
        for holder in holders:
            host_states.setdefault(holder["host"], "up")
        return {
            "sessions": sessions,
            "holders": holders,
            "models": models,
            "histogram_ms": list(HISTOGRAM_MS),
            "hosts": sorted(host_states),
            "host_states": host_states,
            "warnings": list(self.warnings),
        }

    def _holder(self, holder: HolderSeen, pss_mb: dict[int, float]) -> dict:
        served = [self.models.get(name) or _Model() for name in holder.models]
        batches = [b for m in served for b in m.batches]
        return {
            "id": holder.holder,
            "state": holder.state.value,
            "models": list(holder.models),
            "host": _where(holder.host),
            "pid": holder.pid or None,
            "pss_mb": pss_mb.get(holder.pid) if holder.pid and not holder.host else None,
            "devices": dict(holder.devices),
            "batch_mean": round(sum(batches) / len(batches), 1) if batches else None,
            "batch_max": max(batches, default=None),
            "queued": sum(m.queued for m in served),
            "incoming": holder.incoming,
            "error": holder.error,
            "lost": holder.lost,
            "last_lost": holder.last_lost,
        }
