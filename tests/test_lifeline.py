"""The Lifeline's decisions: is the brain still the process it was (pure, in
milliseconds), and which of its session's processes the reaper still has to wait for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from actors.lifeline import alive, is_the_brain, start_of, still_running


def stat(pid: int = 4242, command: str = "python", state: str = "S", ticks: int = 904270) -> str:
    """A /proc/<pid>/stat line as Linux writes it (52 fields; field 22, the start, in ticks)."""
    after = ["1", "1", "1", "0", "-1", "4194304"] + ["0"] * 12 + [str(ticks)] + ["0"] * 30
    return f"{pid} ({command}) {state} " + " ".join(after) + "\n"


def test_the_same_pid_with_the_same_start_is_the_brain():
    assert is_the_brain(stat(ticks=904270), 904270)


def test_the_same_pid_with_another_start_is_a_later_process_and_the_brain_is_gone():
    assert not is_the_brain(stat(ticks=904271), 904270)


@pytest.mark.parametrize("state", ["Z", "X", "x"])
def test_a_zombie_or_dead_brain_is_gone(state):
    # A SIGKILLed brain whose parent has not reaped it yet is a zombie: gone all the same.
    assert not is_the_brain(stat(state=state), 904270)


def test_no_such_process_is_gone():
    assert not is_the_brain(None, 904270)


@pytest.mark.parametrize("command", ["brain serve", "a) S 1 (b", "))"])
def test_a_command_name_with_spaces_or_parentheses_does_not_shift_the_fields(command):
    assert is_the_brain(stat(command=command, state="R"), 904270)
    assert not is_the_brain(stat(command=command, state="Z"), 904270)


def test_this_process_is_alive_by_its_start_and_a_reused_pid_is_not():
    assert alive(os.getpid(), start_of(os.getpid()))
    assert not alive(os.getpid(), start_of(os.getpid()) - 1)


def _procfs_with_the_clock_stepped(tmp: Path, pid: int, by_s: int) -> Path:
    """A copy of what psutil reads of /proc for `pid`, with the boot time that /proc/stat
    reports moved by `by_s`, as the kernel reports it after the wall clock is stepped."""
    lines = Path("/proc/stat").read_text().splitlines()
    stepped = [f"btime {int(line.split()[1]) + by_s}" if line.startswith("btime ") else line for line in lines]
    (tmp / "stat").write_text("\n".join(stepped) + "\n")
    (tmp / str(pid)).mkdir()
    for name in ("stat", "status", "cmdline"):
        (tmp / str(pid) / name).write_bytes(Path(f"/proc/{pid}/{name}").read_bytes())
    return tmp


def test_a_clock_step_leaves_a_live_brain_alive(tmp_path, monkeypatch):
    # psutil's create_time() is its start since boot plus boot_time(), re-read from /proc/stat
    # at each call; after a step of the wall clock the kernel reports another btime, and the
    # lifeline shut down a live brain. What psutil reads here is a copy with btime moved.
    started, created = start_of(os.getpid()), psutil.Process().create_time()
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(_procfs_with_the_clock_stepped(tmp_path, os.getpid(), 3600)))
    assert psutil.Process().create_time() == pytest.approx(created + 3600)  # (what the lifeline compared)
    assert alive(os.getpid(), started)


def test_a_process_that_ended_since_it_was_listed_counts_as_gone():
    # While dozens of actors shut down, one listed a moment ago is often gone by the time
    # its status is read: the reaper took that error for the end of its work.
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    listed = psutil.Process(ended.pid)
    ended.wait()  # (reaped: no such process now, not even a zombie)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    still = psutil.Process(running.pid)
    try:
        assert still_running([listed, still]) == [still]
    finally:
        running.kill()
        running.wait()
    assert still_running([listed, still]) == []
