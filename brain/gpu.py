"""Whether this machine's TensorFlow sees a GPU, for `brain join --capabilities gpu`.

A host that offers `gpu` gets the holders of models that require it; if its TensorFlow
is the CPU build, or no CUDA device is visible, those models quietly run on its CPU.
TensorFlow starts threads when imported and `brain join` forks its actor system, so it is
asked in a child process (niced: a host joining must not slow the one serving).
"""

from __future__ import annotations

import subprocess
import sys

__all__ = ["tensorflow_gpus", "gpu_warning"]

PROBE = (
    "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
    "import tensorflow as tf\n"
    "print(len(tf.config.list_physical_devices('GPU')))\n"
)


def tensorflow_gpus(timeout_s: float = 120.0) -> int | None:
    """How many GPUs TensorFlow sees here; None if TensorFlow is missing or failed."""
    try:
        done = subprocess.run(
            ["nice", "-n", "19", sys.executable, "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
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
