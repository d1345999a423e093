"""`brain top`: the live view of a running brain in a terminal, refreshed every second
(for a machine without a browser). It reads GET /brain/state, as the /brain page would.

    brain top [--url http://127.0.0.1:8080] [--token T] [--once]
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

__all__ = ["render", "run"]


def _ms(value) -> str:
    return "–" if value is None else f"{value:.0f}"


BARS = " ▁▂▃▄▅▆▇█"


def bars(counts: list[int]) -> str:
    """A histogram in one line of block characters, scaled to its tallest bin."""
    top = max(counts, default=0) or 1
    return "".join(BARS[round(c / top * (len(BARS) - 1))] for c in counts)


def render(state: dict) -> str:
    """The state as text: holders, models, then each session's cortexes, then the last warnings."""
    eyes = len(state["sessions"])
    lines = [f"Cortical brain · up {state.get('uptime_s', 0)} s · {eyes} eye{'' if eyes == 1 else 's'}"]
    lines.append("")
    lines.append("HOLDER ON HOST              STATE    PID      PSS MB  BATCH MEAN/MAX  QUEUED  LOST  DEVICE  MODELS")
    for holder in state["holders"]:
        pss = "–" if holder["pss_mb"] is None else f"{holder['pss_mb']:.0f}"
        batch = "–" if holder["batch_mean"] is None else f"{holder['batch_mean']}/{holder['batch_max']}"
        devices = ",".join(sorted(set(holder["devices"].values()))) or "–"
        pid = holder["pid"] or "–"
        lines.append(
            f"{holder['host'][:26]:<27} {holder['state']:<8} {pid:<8} {pss:>6}  {batch:>14}  {holder['queued']:>6}  "
            f"{holder['lost']:>4}  {devices:<6}  {', '.join(holder['models'])}"
        )
    for holder in state["holders"]:
        if holder["error"]:
            lines.append(f"  {', '.join(holder['models'])}: {holder['error'][:100]}")
    if state["models"]:
        edges = "  ".join(f"≤{e}" for e in state["histogram_ms"])
        lines.append("")
        lines.append(f"MODEL            STATE    P50 MS  P95 MS  LATENCY ({edges}  more ms)")
        for model in state["models"]:
            lines.append(
                f"{model['name'][:16]:<16} {model['state']:<8} {_ms(model['p50_ms']):>6}  {_ms(model['p95_ms']):>6}  "
                f"[{bars(model['histogram'])}]  {' '.join(map(str, model['histogram']))}"
            )
    for session in state["sessions"]:
        lines.append("")
        lines.append(f"EYE {session['id']}  from {session['remote']}  up {session['uptime_s']} s")
        lines.append("  CORTEX          STATE       RESTARTS  OUT/S   P50 MS  P95 MS  DROPPED  LAST ERROR")
        for c in session["cortexes"]:
            lines.append(
                f"  {c['name'][:15]:<15} {c['state']:<11} {c['restarts']:>8}  {c['outputs_per_s']:>5.1f}  "
                f"{_ms(c['p50_ms']):>6}  {_ms(c['p95_ms']):>6}  {c['frames_dropped']:>7}  {c['last_error'][:50]}"
            )
    if state["warnings"]:
        lines.append("")
        lines.append("LAST WARNINGS")
        lines += [f"  {w['cortex']}: {w['text'][:100]}" for w in state["warnings"][-5:]]
    return "\n".join(lines)


def run(url: str, token: str, once: bool) -> int:
    address = url.rstrip("/") + "/brain/state" + (f"?token={quote(token)}" if token else "")
    while True:
        try:
            with urllib.request.urlopen(address, timeout=5) as response:
                text = render(json.load(response))
        except urllib.error.HTTPError as exc:
            print(
                f"brain top: {url} refused ({exc.code}): {exc.read().decode(errors='replace').strip()}", file=sys.stderr
            )
            return 2
        except (OSError, ValueError) as exc:
            print(f"brain top: no brain answers at {url} ({exc}); is it running?", file=sys.stderr)
            return 2
        if once:
            print(text)
            return 0
        sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")  # (home, clear: a refreshed screen)
        sys.stdout.flush()
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            return 0
