"""Whether this machine's TensorFlow sees a GPU, for `brain join --capabilities gpu`.

A host that offers `gpu` gets the holders of models that require it; if its TensorFlow
is the CPU build, or no NVIDIA device is there, those models quietly run on its CPU.
Those two cases are told at once from the installed packages and /dev. Otherwise only
TensorFlow can tell: it is asked in a child process (TensorFlow starts threads when
imported, and `brain join` forks its actor system), niced, which the join's loop polls
while it goes on serving.
"""

from __future__ import annotations

import glob
import subprocess
import sys
from importlib import metadata

__all__ = ["ask_tensorflow", "gpu_warning", "gpus_known", "answer"]

PROBE = (
    "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
    "import tensorflow as tf\n"
    "print(len(tf.config.list_physical_devices('GPU')))\n"
)


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def gpus_known(devices: list[str] | None = None, packages: set[str] | None = None) -> int | None | str:
    """0 when TensorFlow surely sees no GPU, None when it is not installed, "ask" when only
    TensorFlow itself can tell. (`devices`, `packages`: what /dev and pip hold; for tests.)"""
    devices = glob.glob("/dev/nvidia[0-9]*") if devices is None else devices
    packages = {p for p in ("tensorflow", "tensorflow-cpu") if _installed(p)} if packages is None else packages
    if not packages:
        return None
    if "tensorflow" not in packages or not devices:
        return 0  # the CPU build, or no NVIDIA device
    return "ask"


def ask_tensorflow() -> subprocess.Popen:
    return subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-c", PROBE], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def answer(probe: subprocess.Popen) -> int | None:
    """How many GPUs the finished probe saw; None if it failed."""
    try:
        return int(probe.stdout.read().strip().splitlines()[-1]) if probe.returncode == 0 else None
    except (ValueError, IndexError):
        return None


def gpu_warning(offers: list[str], gpus: int | None) -> str | None:
    """The sentence to log when a host claims a GPU that TensorFlow cannot use (else None)."""
    if "gpu" not in offers or gpus:
        return None
    why = "TensorFlow is not installed" if gpus is None else "TensorFlow sees no GPU here"
    return (
        f"this host offers gpu, but {why}: models that require gpu will run on this host's CPU. "
        "On a machine with an NVIDIA GPU and its driver, run `make gpu` (TensorFlow's CUDA build), "
        "and give those models their TF.js file (.json): .tflite files always run on the CPU."
    )
