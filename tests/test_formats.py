"""Every supported model format loads through one call and agrees with the model itself."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from actors.models.formats import format_of  # noqa: E402
from actors.models.runtime import load  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    """A small conv net with fixed random weights, and its own answer to a batch."""
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(5, activation="softmax")(x))
    batch = np.random.default_rng(1).random((3, 16, 16, 3), dtype=np.float32)
    return model, batch, model(batch).numpy()


@pytest.mark.parametrize("name", ["tiny.keras", "tiny.h5"])
def test_keras_files(tiny, tmp_path, name):
    model, batch, expected = tiny
    model.save(tmp_path / name)
    run = load(tmp_path / name, format_of(tmp_path / name))
    assert np.allclose(run(batch)[0], expected, atol=1e-6)


def test_savedmodel_directory(tiny, tmp_path):
    model, batch, expected = tiny
    model.export(tmp_path / "saved")
    assert format_of(tmp_path / "saved") == "savedmodel"
    run = load(tmp_path / "saved", "savedmodel")
    assert np.allclose(run(batch)[0], expected, atol=1e-6)


def test_tflite_any_batch(tiny, tmp_path):
    model, batch, expected = tiny
    (tmp_path / "tiny.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    run = load(tmp_path / "tiny.tflite", format_of(tmp_path / "tiny.tflite"))
    assert np.allclose(run(batch)[0], expected, atol=1e-5)
    assert np.allclose(run(batch[:1])[0], expected[:1], atol=1e-5)


def test_missing_file_says_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make models`"):
        load(tmp_path / "nope.json", "tfjs")


def test_unknown_name_asks_for_an_explicit_format(tmp_path):
    with pytest.raises(ValueError, match="set format in its"):
        format_of(tmp_path / "weights.bin")
