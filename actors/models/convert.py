"""Convert the pinned TF.js graph models to TFLite, once, at `make models` time.

The model holder runs TFLite models with LiteRT, without TensorFlow: measured with
`python -m bench.memory`, TensorFlow alone costs a holder ~490 MB and its oneDNN pool grew
by ~300 MB at batch 16; LiteRT runs the same graphs in a fraction of that, and faster at
batch 1 on this CPU (bench/RESULTS.md, "Memory and speed"). TensorFlow stays the build tool: this module reads
each graph with our TF.js loader (every fused op split, R6, since the converter knows none
of TF's fused ops), adds the recipe's tap, converts, and checks that LiteRT's outputs
match TensorFlow's on a real photo before writing the file.

    python -m actors.models.convert [models/]      # every file of CONVERSIONS
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["CONVERSIONS", "convert", "main"]

#: The converted file → (its TF.js source, the recipe kind whose tap and batching it takes).
CONVERSIONS = {
    "nanodet.tflite": ("nanodet.json", "nanodet"),
    "blazeface.tflite": ("blazeface.json", "blazeface"),
    "faceres.tflite": ("faceres.json", "faceres"),
    "emotion.tflite": ("emotion.json", "emotion"),
    "centernet-embedding.tflite": ("centernet.json", "centernet-embedding"),
    "movenet-lightning.tflite": ("movenet-lightning.json", "movenet"),
    "movenet-thunder.tflite": ("movenet-thunder.json", "movenet-thunder"),
    # (not movenet-multipose: the converter cannot express two of its StridedSlices; its
    # .json runs in TensorFlow)
}
# LiteRT's kernels (XNNPACK) sum in another order than oneDNN's. Measured: outputs agree
# within 3e-6 of their range, 1.2e-3 for the 15-layer-deep centernet tap; a wrong
# conversion (outputs swapped, an op lost) is off by tenths.
TOLERANCE = 1e-2


def convert(source: Path, kind: str) -> tuple[bytes, float]:
    """The TFLite flatbuffer of a TF.js model, and its largest output difference from
    TensorFlow on a photo (relative to each output's range)."""
    import tensorflow as tf

    from actors.models.recipes import RECIPES
    from actors.models.tfjs import TfjsGraphModel

    recipe = RECIPES[kind]
    model = TfjsGraphModel(source, batchable=recipe.batchable, tap=recipe.tap, plain=True)
    converter = tf.compat.v1.lite.TFLiteConverter.from_session(model._session, [model._input], model._outputs)
    flatbuffer = converter.convert()
    batch = recipe.preprocess(_photo(recipe.input_size)[None])
    expected = model(batch)
    got = _litert(flatbuffer, batch)
    worst = max(float(np.abs(g - e).max() / (np.ptp(e) or 1.0)) for g, e in zip(got, expected, strict=True))
    return flatbuffer, worst


def _photo(size: tuple[int, int]) -> np.ndarray:
    import skimage.data
    from PIL import Image

    height, width = size
    return np.asarray(Image.fromarray(skimage.data.astronaut()).resize((width, height)), np.uint8)


def _litert(flatbuffer: bytes, batch: np.ndarray) -> list[np.ndarray]:
    from actors.models.litert import LiteModel

    return LiteModel(flatbuffer)(batch)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # (TensorFlow's start-up chatter)
    directory = Path((argv if argv is not None else sys.argv[1:] or ["models"])[0])
    for target, (source, kind) in CONVERSIONS.items():
        flatbuffer, worst = convert(directory / source, kind)
        if worst > TOLERANCE:
            print(f"{target}: LiteRT differs from TensorFlow by {worst:.2g} of the range; not written", file=sys.stderr)
            return 1
        (directory / target).write_bytes(flatbuffer)
        print(f"{target}: {len(flatbuffer) / 2**20:.1f} MB from {source}, within {worst:.1g} of TensorFlow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
