"""False host losses under CPU load, against how fast a real death is noticed (not CI).

A leader and a member on 127.0.0.2 (the objects holder placed there); `--busy` busy loops
and `--eyes` eyes sending snapshots load the 2 cores for `--seconds`; every "host … is
lost" line in that time is a false loss. Then every process of the member is SIGKILLed
at once, and the time until the leader says the host is lost is the detection time.

    .venv/bin/python -m bench.host_loss --busy 5 --eyes 3 --seconds 240
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.probe import Load
from harness.brains import Member, brain_state, running_brain
from harness.configs import GPU_TOPOLOGY
from harness.waits import wait_until

SETTINGS = {
    "default": GPU_TOPOLOGY.replace(
        "heartbeat_every_s = 0.25\nhost_dead_after_s = 1.0\nleader_lost_after_s = 2.0\n", ""
    ),
    "tight": GPU_TOPOLOGY,  # the tests' heartbeat: every 0.25 s, lost after 1 s
}


def ready_on_host(brain, model: str, host: str) -> bool:
    return any(
        holder["state"] == "ready" and holder["host"] == host and model in holder["models"]
        for holder in brain_state(brain)["holders"]
    )


def run(settings: str, busy: int, eyes: int, seconds: float) -> tuple[int, float | None, float]:
    env = {"CORTICAL_ACTOR_SECRET": secrets.token_hex(32)}
    with tempfile.TemporaryDirectory() as tmp, running_brain(SETTINGS[settings], Path(tmp), env=env) as leader:
        member = Member(leader, "127.0.0.2", "gpu", Path(tmp), env)
        loads = []
        try:
            # The objects holder loaded on the member (the brain's state: an eye is told of
            # it only by its objects cortex, which starts at its first picture).
            placed = wait_until(lambda: ready_on_host(leader, "objects", member.name), 180)
            assert placed, brain_state(leader)["holders"]
            joined = len(leader.log_lines)
            spin = f"import time\nend = time.monotonic() + {seconds + 30}\nwhile time.monotonic() < end: pass"
            loads = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(busy)]
            load = Load(leader, eyes, 2.0) if eyes else None
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                time.sleep(1)
            load_avg = os.getloadavg()[0]
            if load:
                load.stop.set()
            false_losses = sum("is lost" in line for line in leader.log_lines[joined:])
            for proc in loads:
                proc.kill()
            before = len(leader.log_lines)
            member.crash()
            crashed = time.monotonic()
            found = wait_until(lambda: any("is lost" in line for line in leader.log_lines[before:]), 60, 0.02)
            detected = time.monotonic() - crashed if found else None
        finally:
            for proc in loads:
                proc.kill()
            member.stop()
    return false_losses, detected, load_avg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=5, help="busy loops (each takes a core if it can)")
    parser.add_argument("--eyes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=240)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args()
    print("\n| heartbeat | load | joined for s | load average | false losses | crash noticed after s |")
    print("|---|---|---:|---:|---:|---:|")
    for settings in args.settings:
        losses, detected, load_avg = run(settings, args.busy, args.eyes, args.seconds)
        print(
            f"| {settings} | {args.busy} busy loops + {args.eyes} eyes | {args.seconds:g} | {load_avg:.1f} | "
            f"{losses} | {'not noticed' if detected is None else f'{detected:.2f}'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
