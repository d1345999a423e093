"""The teach and private-data probe (issue 22, items 6, 9 and 10), repeatable (not CI).

    .venv/bin/python -m bench.probe_teach

1. `brain teach import` of bad archives (not a zip, empty, an empty zip, truncated,
   encrypted, Deflate64, `../`, absolute and symlink entries, a damaged entry after a good
   one), each then retried with a good archive under the same name: the exit code, the
   first line said, what was left in the store, whether the retry worked;
2. a real brain (echo, learned, faces, sentry; real models): a face enrolled, an unknown
   person alerted on, pose samples recorded and a training started; the learned cortex is
   killed mid-training: does its trainer survive, is a second training accepted, how many
   versions are written, is training.lock left behind, does the eye still get its echo;
3. the modes of what that brain wrote: teach samples, a trained head, an alert snapshot,
   the faces directory and the files in it.
Bounded: a few minutes at most (every wait has a timeout). Loopback only.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from websockets.exceptions import ConnectionClosed

from actors.cortexes.learned.store import TeachStore
from harness import ROOT
from harness.brains import running_brain
from harness.configs import STORES_NEEDS, stores_topology
from harness.eyes import ready_models
from harness.pictures import ASTRONAUT, CAMERAMAN, frame, variant
from harness.report import table
from harness.waits import wait_until

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


# -- 1. archives ------------------------------------------------------------------------


def _patched(data: bytes, offset_in_local: int, offset_in_central: int, value: bytes) -> bytes:
    """Every local and central header of a zip with `value` written at the given offsets."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", offset_in_local), (b"PK\x01\x02", offset_in_central)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset : at + offset + len(value)] = value
            at = out.find(signature, at + 4)
    return bytes(out)


def archives(tmp: Path) -> dict[str, bytes]:
    store = TeachStore(tmp / "source")
    for label in ("up", "down"):
        for _ in range(3):
            store.add("dance", label, JPEG)
    good = store.export("dance", tmp / "good.zip").read_bytes()
    names = [n for n in zipfile.ZipFile(tmp / "good.zip").namelist()]

    def zipped(*entries: tuple[str, bytes, int]) -> bytes:
        path = tmp / "made.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(name)
                info.external_attr = mode << 16
                archive.writestr(info, data)
        return path.read_bytes()

    sample = (names[0], JPEG, 0o100644)
    damaged = bytearray(zipped(sample, ("samples/up/2-2.jpg", JPEG, 0o100644)))
    second = damaged.find(b"PK\x03\x04", 4)
    damaged[second + 30 + len("samples/up/2-2.jpg") + 10] ^= 0xFF  # its data: the CRC no longer holds
    return {
        "not a zip": b"hello, this is not a zip",
        "an empty file": b"",
        "an empty zip": zipped(),
        "truncated (half of a good one)": good[: len(good) // 2],
        "encrypted (flag bit 0)": _patched(good, 6, 8, b"\x01\x00"),
        "Deflate64 (method 9)": _patched(good, 8, 10, b"\x09\x00"),
        "a ../ entry": zipped(sample, ("samples/../../escaped/1-1.jpg", JPEG, 0o100644)),
        "an absolute entry": zipped(sample, ("/tmp/samples/up/1-1.jpg", JPEG, 0o100644)),
        "a symlink entry": zipped(sample, ("samples/up/3-3.jpg", b"/etc/passwd", 0o120777)),
        "a damaged entry after a good one": bytes(damaged),
        "good": good,
    }


def import_part(tmp: Path) -> list[tuple]:
    config = tmp / "teach.toml"
    store = tmp / "teach"
    config.write_text(
        f'[[cortex]]\nname = "learned"\ntype = "learned"\nsubscribes = ["image", "command"]\n'
        f'params = {{ store_dir = "{store}" }}\n'
    )

    def brain_teach(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "brain.cli", "teach", "--config", str(config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = archives(tmp)
    (tmp / "good.zip").write_bytes(made.pop("good"))
    rows = []
    for index, (what, data) in enumerate(made.items()):
        path = tmp / f"bad-{index}.zip"
        path.write_bytes(data)
        project = f"p{index}"
        done = brain_teach("import", str(path), project)
        said = (done.stderr or done.stdout).strip()
        first = "TRACEBACK: " + said.splitlines()[-1] if "Traceback" in said else said.splitlines()[0] if said else ""
        left = sorted(str(p.relative_to(store)) for p in store.rglob("*")) if store.exists() else []
        left = [p for p in left if p.split("/")[0] not in {f"p{i}" for i in range(index)}]
        escaped = [p for p in (tmp / "escaped", Path("/tmp/samples")) if p.exists()]
        retry = brain_teach("import", str(tmp / "good.zip"), project)
        rows.append(
            (
                what,
                done.returncode,
                first[:110],
                f"{len(left)} files/dirs" + (f", ESCAPED to {escaped}" if escaped else ""),
                retry.returncode == 0,
            )
        )
    return rows


# -- 2 and 3. a real brain ----------------------------------------------------------------


def wait(eye, predicate, timeout: float) -> dict | None:
    try:
        return eye.wait_for(predicate, timeout)
    except (TimeoutError, ConnectionClosed):
        return None


def command(eye, kinds=("teach", "error"), timeout: float = 30, **fields) -> dict | None:
    eye.send(json.dumps(fields))
    return wait(eye, lambda o: o["cortex"] == "learned" and o["kind"] in kinds, timeout)


def echoes(brain) -> bool:
    try:
        with brain.eye(max_size=None) as fresh:
            fresh.wait_ready(60)
            return fresh.ask("still there?", 30)["text"] == "still there?"
    except (OSError, TimeoutError, ConnectionClosed):
        return False


def lock_state(path: Path) -> str:
    """Whether a training lock file is there, and whether a process holds it (an flock)."""
    if not path.exists():
        return "gone"
    with open(path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "left and HELD"
    return "left, held by nobody"


def mode(path: Path) -> str:
    try:
        return oct(stat.S_IMODE(path.stat().st_mode))
    except OSError:
        return "missing"


def brain_part(tmp: Path) -> tuple[list[tuple], list[tuple]]:
    rows, modes = [], []
    rng = np.random.default_rng(5)
    config = stores_topology(tmp, max_epochs=40)
    with running_brain(config, tmp) as brain, brain.eye(max_size=None) as eye:
        # The models loaded (the brain's state: an eye is told of them only by its cortexes).
        wait_until(lambda: {model for _, model in STORES_NEEDS} <= ready_models(brain), 180)
        eye.wait_ready(60)
        eye.send(frame(ASTRONAUT))
        eye.send(json.dumps({"command": "enroll", "name": "Eileen"}))
        enrolled = wait(eye, lambda o: o["cortex"] == "faces" and o["kind"] in ("enrolled", "error"), 60)
        rows.append(("enrol a face", enrolled and f"{enrolled['kind']}: {enrolled['text'][:60]}", echoes(brain)))
        alert = None
        for _ in range(20):  # (the sentry keeps the latest frame only: one per answer of the faces cortex)
            eye.send(frame(CAMERAMAN))
            wait(eye, lambda o: o["cortex"] == "faces" and o["kind"] in ("faces", "error"), 60)
            alert = next((o for o in eye.seen if o["kind"] == "alert"), None)
            if alert:
                break
        rows.append(("an unknown person in view", alert and alert["text"], echoes(brain)))
        for label, photo in {"portrait": ASTRONAUT, "at the camera": CAMERAMAN}.items():
            for _ in range(8):
                eye.send(frame(variant(photo, rng)))
                command(eye, command="teach.sample", project="poses", label=label)
        started = command(eye, kinds=("training", "error"), command="teach.train", project="poses", features="pose")
        rows.append(("train (pose, 16 samples)", started and started["text"], echoes(brain)))
        wait_until(lambda: brain.named("Trainer"), 10)
        trainers = brain.named("Trainer")
        cortex = trainers[0].ppid() if trainers else 0
        if cortex:
            os.kill(cortex, signal.SIGKILL)
        killed = time.monotonic()
        gone = wait_until(lambda: not brain.named("Trainer"), 5, interval=0.01)
        orphans = [(p.pid, p.ppid()) for p in brain.named("Trainer")]
        rows.append(
            (
                f"SIGKILL the learned cortex (pid {cortex}, the trainer's parent) mid-training",
                f"trainer gone in {time.monotonic() - killed:.2f} s"
                if gone
                else f"trainers alive 5 s later: {len(orphans)}, (pid, ppid) {orphans}",
                echoes(brain),
            )
        )
        back = wait(eye, lambda o: o["cortex"] == "session" and o["text"] == "The learned cortex is back.", 30)
        again = command(eye, kinds=("training", "error"), command="teach.train", project="poses", features="pose")
        said = again and f"{again['kind']}: {again['text'][:70]}"
        rows.append(("train again once the cortex is back" if back else "train again", said, echoes(brain)))
        trained = wait(eye, lambda o: o["cortex"] == "learned" and o["kind"] in ("trained", "error"), 300)
        # An orphan trainer (if any) finishes on its own meanwhile.
        wait_until(lambda: not brain.named("Trainer"), 120, interval=1)
        project = tmp / "teach" / "poses"
        versions = sorted(p.name for p in (project / "versions").iterdir()) if (project / "versions").exists() else []
        rows.append(
            (
                "after the training",
                f"{trained and trained['kind']}; versions {versions}; training.lock "
                f"{lock_state(project / 'training.lock')}; "
                f"trainers left {len(brain.named('Trainer'))}",
                echoes(brain),
            )
        )
        sample = next((project / "samples").rglob("*.jpg"), None)
        head = next((project / "versions").rglob("model.tflite"), None) if versions else None
        snapshot = next((tmp / "alerts").rglob("*.jpg"), None)
        face = next((tmp / "faces").glob("*.json"), None)
        for what, path in [
            ("teach store", tmp / "teach"),
            ("a teach sample's class directory", sample and sample.parent),
            ("a teach sample", sample),
            ("a trained version's directory", head and head.parent),
            ("a trained head", head),
            ("alerts directory", tmp / "alerts"),
            ("an alert snapshot's day directory", snapshot and snapshot.parent),
            ("an alert snapshot", snapshot),
            ("faces directory", tmp / "faces"),
            ("an enrolled face", face),
        ]:
            modes.append((what, mode(path) if path else "none written", path.name if path else ""))
    return rows, modes


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        table(
            ("archive", "exit", "said", "left in the store", "good retry under that name"),
            import_part(Path(tmp)),
        )
    with tempfile.TemporaryDirectory() as tmp:
        rows, modes = brain_part(Path(tmp))
    table(("tried", "what happened", "echo after"), rows)
    table(("written by the brain", "mode", "name"), modes)


if __name__ == "__main__":
    main()
