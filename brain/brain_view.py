"""What the brain is doing, as people see it in `GET /brain/state` and `brain top`: built
from the outputs the gateway forwards anyway (no extra hop per frame), as a pure state
machine (the time is passed in).

Per session: its cortexes, each with a state (starting, running, restarting, off,
failed), restarts, last error, outputs a second, p50/p95 latency and frames dropped (from
each output's Meter). Per model holder: its models, host, pid and device (from the
cortexes' "model ready" statuses), batch sizes and queue. Per model: a latency histogram.
The last warnings (error outputs). Bounded: a few hundred numbers per cortex and per
model, whatever the traffic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from actors.messages import Output

__all__ = ["BrainView", "histogram", "HISTOGRAM_MS"]

WINDOW_S = 10.0  # outputs a second are counted over this window
LATENCIES_KEPT = 200
BATCHES_KEPT = 50
WARNINGS_KEPT = 20
# Upper edges of the per-model latency histogram, in ms (the last bin is everything above).
HISTOGRAM_MS = (10, 25, 50, 100, 250, 500, 1000)


@dataclass
class _Cortex:
    state: str = "starting"
    restarts: int = 0
    last_error: str = ""
    outputs: deque = field(default_factory=lambda: deque(maxlen=2000))  # times
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    dropped: int = 0


@dataclass
class _Model:
    device: str = "CPU"
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    batches: deque = field(default_factory=lambda: deque(maxlen=BATCHES_KEPT))
    queued: int = 0


@dataclass
class _Session:
    remote: str
    opened: float
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


class BrainView:
    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.holders: dict[tuple[str, int], set[str]] = {}  # (host, pid) → models
        self.models: dict[str, _Model] = {}
        self.changes = 0  # counts what a snapshot must show at once (not the counters)
        self.warnings: deque = deque(maxlen=WARNINGS_KEPT)

    def opened(self, session: str, remote: str, now: float) -> None:
        self.sessions[session] = _Session(remote, now)
        self.changes += 1

    def closed(self, session: str) -> None:
        self.sessions.pop(session, None)
        self.changes += 1

    def output(self, session: str, output: Output, now: float) -> None:
        seen = self.sessions.get(session)
        if seen is None:
            return
        data = output.data or {}
        if output.cortex == "session" or output.kind in ("status", "error"):
            self.changes += 1
        if output.cortex == "session":
            if data.get("ready"):
                for name in data.get("cortexes", []):
                    seen.cortexes.setdefault(name, _Cortex()).state = "running"
            name = data.get("cortex")
            if name and data.get("state"):
                cortex = seen.cortexes.setdefault(name, _Cortex())
                if data["state"] == "restarting":
                    cortex.restarts += 1
                cortex.state = data["state"]
        elif output.cortex in seen.cortexes:
            cortex = seen.cortexes[output.cortex]
            cortex.outputs.append(now)
            meter = output.meter
            if meter is not None and meter.latency_ms is not None:
                cortex.latencies.append(meter.latency_ms)
            if meter is not None and meter.frames_dropped is not None:
                cortex.dropped = meter.frames_dropped
            if meter is not None and meter.model:
                model = self.models.setdefault(meter.model, _Model())
                if meter.latency_ms is not None:
                    model.latencies.append(meter.latency_ms)
                if meter.batch is not None:
                    model.batches.append(meter.batch)
                if meter.queued is not None:
                    model.queued = meter.queued
            if output.kind == "status" and data.get("state") == "ready" and "pid" in data:
                self.models.setdefault(data["model"], _Model()).device = data.get("device", "CPU")
                for models in self.holders.values():
                    models.discard(data["model"])  # (it moved, or its holder was replaced)
                self.holders.setdefault((data.get("host", ""), data["pid"]), set()).add(data["model"])
                self.holders = {key: models for key, models in self.holders.items() if models}
        if output.kind == "error":
            if output.cortex in seen.cortexes:
                seen.cortexes[output.cortex].last_error = output.text
            elif data.get("cortex") in seen.cortexes:
                seen.cortexes[data["cortex"]].last_error = output.text
            self.warnings.append(
                {"at": round(now, 3), "session": session, "cortex": output.cortex, "text": output.text}
            )

    def snapshot(self, now: float, pss_mb: dict[int, float] | None = None) -> dict:
        """The JSON of GET /brain/state. `pss_mb`: the memory of local processes by pid."""
        pss_mb = pss_mb or {}
        sessions = []
        for session, seen in self.sessions.items():
            cortexes = []
            for name, c in seen.cortexes.items():
                recent = [t for t in c.outputs if now - t <= WINDOW_S]
                latencies = list(c.latencies)
                cortexes.append(
                    {
                        "name": name,
                        "state": c.state,
                        "restarts": c.restarts,
                        "last_error": c.last_error,
                        "outputs_per_s": round(len(recent) / WINDOW_S, 2),
                        "p50_ms": _percentile(latencies, 0.5),
                        "p95_ms": _percentile(latencies, 0.95),
                        "frames_dropped": c.dropped,
                    }
                )
            sessions.append(
                {"id": session, "remote": seen.remote, "uptime_s": round(now - seen.opened), "cortexes": cortexes}
            )
        holders, models = [], []
        for (host, pid), names in sorted(self.holders.items()):
            served = {name: self.models.get(name) or _Model() for name in sorted(names)}
            batches = [b for m in served.values() for b in m.batches]
            holders.append(
                {
                    "models": sorted(names),
                    "host": host or "this machine",
                    "pid": pid,
                    "pss_mb": pss_mb.get(pid) if not host else None,
                    "devices": {name: m.device for name, m in served.items()},
                    "batch_mean": round(sum(batches) / len(batches), 1) if batches else None,
                    "batch_max": max(batches, default=None),
                    "queued": sum(m.queued for m in served.values()),
                }
            )
            for name in sorted(names):
                latencies = list(served[name].latencies)
                models.append(
                    {
                        "name": name,
                        "host": host or "this machine",
                        "p50_ms": _percentile(latencies, 0.5),
                        "p95_ms": _percentile(latencies, 0.95),
                        "histogram": histogram(latencies),
                    }
                )
        hosts = sorted({h["host"] for h in holders} | {"this machine"})
        return {
            "sessions": sessions,
            "holders": holders,
            "models": models,
            "histogram_ms": list(HISTOGRAM_MS),
            "hosts": hosts,
            "warnings": list(self.warnings),
        }
