"""Which backbone gives teach projects their image features: candidates from the pinned
model package, on a small set of our own (5 photos × 20 variants to learn from, 20 new
variants each to judge), with the cost per frame.

Judged two ways: nearest class mean by cosine (no training: the features alone), and a
small softmax head (Dense 64 → dropout → softmax, 60 epochs, seeded) as the trainer uses.
"""

from __future__ import annotations

import time

import numpy as np
import skimage.data
from PIL import Image, ImageEnhance

from harness import ROOT

MOVENET_TAP = "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/model/out_relu/Relu6"
CANDIDATES = {
    "centernet MobileNetV3, 512²": ("centernet.json", "tower_0/MobilenetV3/expanded_conv_14/add", 512, np.float32),
    "movenet-lightning MobileNetV2, 192²": ("movenet-lightning.json", MOVENET_TAP, 192, np.int32),
    "movenet-thunder MobileNetV2, 256²": ("movenet-thunder.json", MOVENET_TAP, 256, np.int32),
}


def variant(image: np.ndarray, rng: np.random.Generator) -> Image.Image:
    out = Image.fromarray(image)
    width, height = out.size
    scale = rng.uniform(0.45, 0.85)
    w, h = int(width * scale), int(height * scale)
    x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
    out = out.crop((x, y, x + w, y + h)).rotate(rng.uniform(-25, 25))
    return ImageEnhance.Brightness(out).enhance(rng.uniform(0.5, 1.5))


def main() -> None:
    import keras

    from actors.models.tfjs import TfjsGraphModel

    rng = np.random.default_rng(0)
    photos = {
        "cup": skimage.data.coffee(),
        "cat": skimage.data.chelsea(),
        "person": skimage.data.astronaut(),
        "rocket": skimage.data.rocket(),
        "camera": np.stack([skimage.data.camera()] * 3, -1),
    }
    labels = sorted(photos)
    train = [(labels.index(k), variant(p, rng)) for k, p in photos.items() for _ in range(20)]
    test = [(labels.index(k), variant(p, rng)) for k, p in photos.items() for _ in range(20)]
    print("| backbone (tap averaged) | numbers | ms per frame | nearest class mean | small head |")
    print("|---|---:|---:|---:|---:|")
    for name, (file, tap, size, dtype) in CANDIDATES.items():
        model = TfjsGraphModel(ROOT / "models" / file, batchable=False, tap=tap)

        def embed(image: Image.Image) -> np.ndarray:
            pixels = np.asarray(image.convert("RGB").resize((size, size)), dtype)
            return model(pixels[None])[0][0]

        embed(train[0][1])
        started = time.perf_counter()
        x = np.stack([embed(image) for _, image in train])
        ms = (time.perf_counter() - started) * 1000 / len(train)
        xt = np.stack([embed(image) for _, image in test])
        y, yt = np.array([c for c, _ in train]), np.array([c for c, _ in test])
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        means = np.stack([unit[y == c].mean(0) for c in range(len(labels))])
        nearest = (np.argmax(xt / np.linalg.norm(xt, axis=1, keepdims=True) @ means.T, 1) == yt).mean()
        keras.utils.set_random_seed(0)
        normalise = keras.layers.Normalization()
        normalise.adapt(x)
        head = keras.Sequential(
            [
                keras.Input((x.shape[1],)),
                normalise,
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(len(labels), activation="softmax"),
            ]
        )
        head.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        head.fit(x, y, epochs=60, batch_size=16, verbose=0)
        judged = head.evaluate(xt, yt, verbose=0)[1]
        print(f"| {name} | {x.shape[1]} | {ms:.1f} | {nearest:.0%} | {judged:.0%} |")


if __name__ == "__main__":
    main()
