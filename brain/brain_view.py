"""What the brain is doing, as people see it in `GET /brain/state` and `brain top`: built
from the outputs the gateway forwards anyway (no extra hop per frame), as a pure state
machine (the time is passed in).

Per session: its cortexes, each with a state (starting, running, restarting, off,
failed), restarts, last error, outputs a second, p50/p95 latency and frames dropped (from
each output's Meter). Per model holder: its models, host and pid (from the cortexes'
"model ready" statuses). The last warnings (error outputs). Bounded: a few hundred numbers
per cortex, whatever the traffic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from actors.messages import Output

__all__ = ["BrainView"]

WINDOW_S = 10.0  # outputs a second are counted over this window
LATENCIES_KEPT = 200
WARNINGS_KEPT = 20


@dataclass
class _Cortex:
    state: str = "starting"
    restarts: int = 0
    last_error: str = ""
    outputs: deque = field(default_factory=lambda: deque(maxlen=2000))  # times
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    dropped: int = 0


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


class BrainView:
    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.holders: dict[tuple[str, int], set[str]] = {}  # (host, pid) → models
        self.warnings: deque = deque(maxlen=WARNINGS_KEPT)

    def opened(self, session: str, remote: str, now: float) -> None:
        self.sessions[session] = _Session(remote, now)

    def closed(self, session: str) -> None:
        self.sessions.pop(session, None)

    def output(self, session: str, output: Output, now: float) -> None:
        seen = self.sessions.get(session)
        if seen is None:
            return
        data = output.data or {}
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
            if output.kind == "status" and data.get("state") == "ready" and "pid" in data:
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
        holders = [
            {
                "models": sorted(models),
                "host": host or "this machine",
                "pid": pid,
                "pss_mb": pss_mb.get(pid) if not host else None,
            }
            for (host, pid), models in sorted(self.holders.items())
        ]
        hosts = sorted({h["host"] for h in holders} | {"this machine"})
        return {"sessions": sessions, "holders": holders, "hosts": hosts, "warnings": list(self.warnings)}
