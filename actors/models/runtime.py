"""Load a model file in any supported format as `run(batch) -> list of output arrays`.

Formats: "tflite" (run by LiteRT, without TensorFlow: what `make models` converts the
default models to), and in TensorFlow "tfjs" (model.json + shards, our loader),
"savedmodel" (a directory) and "keras" (.keras / .h5). TensorFlow is imported on the
first model that needs it, so a holder of TFLite models never pays for it. Only the
ModelHolder process (and the build's converter) may import this module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

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
        from actors.models.litert import LiteModel

        return LiteModel(path)
    raise ValueError(f"unknown model format {fmt!r} (known: {', '.join(FORMATS)})")


def device_of(fmt: str) -> str:
    """Where a model of this format runs here: the first GPU TensorFlow sees, else the CPU.
    (LiteRT runs TFLite models on the CPU.)"""
    if fmt == "tflite":
        return "CPU"
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return f"GPU:0 ({details.get('device_name', 'unnamed')})"


def _savedmodel(path: Path) -> Run:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    ((input_name, spec),) = serve.structured_input_signature[1].items()

    def run(batch: np.ndarray) -> list[np.ndarray]:
        outputs = serve(**{input_name: tf.constant(batch, dtype=spec.dtype)})
        return [outputs[k].numpy() for k in sorted(outputs)]

    run.keep_alive = loaded  # the signature holds only a weak reference to its variables
    return run


def _keras(path: Path) -> Run:
    import tensorflow as tf

    model = tf.keras.models.load_model(str(path), compile=False)

    def run(batch: np.ndarray) -> list[np.ndarray]:
        outputs = model(batch, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return [np.asarray(o) for o in outputs]

    return run
