"""Load a model file in any supported format as `run(batch) -> list of output arrays`.

Imports TensorFlow: only the ModelHolder process may import this module.
Formats: "tfjs" (model.json + shards, our loader), "savedmodel" (a directory),
"keras" (.keras / .h5) and "tflite".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from actors.models.formats import FORMATS

__all__ = ["load", "device_of"]

Run = Callable[[np.ndarray], list[np.ndarray]]


def load(path: str | Path, fmt: str, batchable: bool = True, tap: str = "") -> Run:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist; run `make models` to fetch it")
    if fmt == "tfjs":
        from actors.models.tfjs import TfjsGraphModel

        return TfjsGraphModel(path, batchable=batchable, tap=tap)
    if fmt == "savedmodel":
        return _savedmodel(path)
    if fmt == "keras":
        return _keras(path)
    if fmt == "tflite":
        return _tflite(path)
    raise ValueError(f"unknown model format {fmt!r} (known: {', '.join(FORMATS)})")


def device_of(fmt: str) -> str:
    """Where a model of this format runs here: the first GPU TensorFlow sees, else the CPU.
    (The TFLite interpreter always runs on the CPU.)"""
    gpus = tf.config.list_logical_devices("GPU")
    if fmt == "tflite" or not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return f"GPU:0 ({details.get('device_name', 'unnamed')})"


def _savedmodel(path: Path) -> Run:
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    ((input_name, spec),) = serve.structured_input_signature[1].items()

    def run(batch: np.ndarray) -> list[np.ndarray]:
        outputs = serve(**{input_name: tf.constant(batch, dtype=spec.dtype)})
        return [outputs[k].numpy() for k in sorted(outputs)]

    run.keep_alive = loaded  # the signature holds only a weak reference to its variables
    return run


def _keras(path: Path) -> Run:
    model = tf.keras.models.load_model(str(path), compile=False)

    def run(batch: np.ndarray) -> list[np.ndarray]:
        outputs = model(batch, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return [np.asarray(o) for o in outputs]

    return run


def _tflite(path: Path) -> Run:
    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outputs = sorted(interpreter.get_output_details(), key=lambda d: d["index"])
    allocated = [tuple(inp["shape"])]

    def run(batch: np.ndarray) -> list[np.ndarray]:
        if tuple(batch.shape) != allocated[0]:
            interpreter.resize_tensor_input(inp["index"], list(batch.shape))
            interpreter.allocate_tensors()
            allocated[0] = tuple(batch.shape)
        interpreter.set_tensor(inp["index"], batch.astype(inp["dtype"], copy=False))
        interpreter.invoke()
        return [interpreter.get_tensor(o["index"]).copy() for o in outputs]

    return run
