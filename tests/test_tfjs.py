"""Our TF.js graph-model loader: each rewrite on a tiny hand-made graph, checked against
TensorFlow's own ops; weight dequantisation; and the real nanodet batched vs single."""

import json
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
from google.protobuf import json_format  # noqa: E402
from tensorflow.core.framework import graph_pb2, node_def_pb2  # noqa: E402

from actors.models import nanodet  # noqa: E402
from actors.models.tfjs import TfjsGraphModel, read_model, read_weights  # noqa: E402
from harness import ROOT  # noqa: E402

rng = np.random.default_rng(7)


def node(name, op, inputs=(), **attrs):
    n = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        if key in ("T", "dtype", "Tshape"):
            n.attr[key].type = value.as_datatype_enum
        elif key == "shape":
            for d in value:
                n.attr[key].shape.dim.add(size=d)
        elif key in ("padding", "data_format"):
            n.attr[key].s = value.encode()
        elif key == "fused_ops":
            n.attr[key].list.s[:] = [v.encode() for v in value]
        elif key in ("strides", "dilations"):
            n.attr[key].list.i[:] = value
        elif key == "epsilon":
            n.attr[key].f = value
    return n


def write_tfjs(tmp: Path, nodes, weights, input_shape, quantize=None, shards=1) -> Path:
    """A model.json + shard(s) as TF.js writes them: Const nodes carry no values."""
    graph = graph_pb2.GraphDef(node=nodes)
    specs, blobs = [], []
    for name, value in weights.items():
        spec = {"name": name, "shape": list(value.shape), "dtype": str(value.dtype)}
        if value.dtype == np.int64:
            spec["dtype"], value = "int32", value.astype(np.int32)  # what TF.js does
        q = (quantize or {}).get(name)
        if q == "float16":
            spec["quantization"] = {"dtype": "float16"}
            blobs.append(value.astype(np.float16).tobytes())
        elif q in ("uint8", "uint16"):
            top = 255 if q == "uint8" else 65535
            lo, hi = float(value.min()), float(value.max())
            scale = (hi - lo) / top
            spec["quantization"] = {"dtype": q, "scale": scale, "min": lo}
            blobs.append(np.round((value - lo) / scale).astype(q).tobytes())
        else:
            blobs.append(value.tobytes())
        specs.append(spec)
    data = b"".join(blobs)
    cut = len(data) // shards
    paths = []
    for i in range(shards):
        part = data[i * cut : (i + 1) * cut if i < shards - 1 else len(data)]
        (tmp / f"group1-shard{i + 1}of{shards}.bin").write_bytes(part)
        paths.append(f"group1-shard{i + 1}of{shards}.bin")
    model = {
        "format": "graph-model",
        "modelTopology": json_format.MessageToDict(graph),
        "weightsManifest": [{"paths": paths, "weights": specs}],
        "signature": {"inputs": {"x:0": {"name": "x:0"}}, "outputs": {"out:0": {"name": "out:0"}}},
    }
    path = tmp / "model.json"
    path.write_text(json.dumps(model))
    return path


def fused_conv2d(name, inputs):
    """A 3×3 `_FusedConv2D` + BiasAdd + Relu as TF.js writes it (no num_args, no TArgs)."""
    return node(
        name,
        "_FusedConv2D",
        inputs,
        T=tf.float32,
        strides=[1, 1, 1, 1],
        padding="SAME",
        data_format="NHWC",
        dilations=[1, 1, 1, 1],
        fused_ops=["BiasAdd", "Relu"],
        epsilon=0.0,
    )


def consts(weights, **dtypes):
    return [node(name, "Const", dtype=dtypes.get(name, tf.float32)) for name in weights]


def test_weights_dequantise_float16_uint8_uint16_across_shards(tmp_path):
    weights = {
        "a": rng.normal(size=(3, 4)).astype(np.float32),
        "b": rng.normal(size=(5,)).astype(np.float32),
        "c": rng.normal(size=(2, 2)).astype(np.float32),
        "d": np.arange(6, dtype=np.int32),
    }
    path = write_tfjs(
        tmp_path, consts(weights), weights, [1], quantize={"a": "float16", "b": "uint8", "c": "uint16"}, shards=3
    )
    model, _ = read_model(path)
    read = read_weights(model, tmp_path)
    assert np.allclose(read["a"], weights["a"], atol=2e-3)
    assert np.allclose(read["b"], weights["b"], atol=(np.ptp(weights["b"]) / 255) * 0.51)
    assert np.allclose(read["c"], weights["c"], atol=(np.ptp(weights["c"]) / 65535) * 0.51)
    assert read["d"].dtype == np.int32 and list(read["d"]) == list(range(6))


def test_r1_int64_constant_stored_as_int32(tmp_path):
    weights = {"shape": np.array([2, 8], np.int64)}
    nodes = [
        node("x", "Placeholder", dtype=tf.float32, shape=[1, 4, 4]),
        node("shape", "Const", dtype=tf.int64),
        node("out", "Reshape", ["x", "shape"], T=tf.float32, Tshape=tf.int64),
    ]
    model = TfjsGraphModel(write_tfjs(tmp_path, nodes, weights, [1, 4, 4]), batchable=False)
    x = rng.normal(size=(1, 4, 4)).astype(np.float32)
    (out,) = model(x)
    assert np.array_equal(out, x.reshape(2, 8))


def test_r2_fused_conv2d_without_targs(tmp_path):
    weights = {"w": rng.normal(size=(3, 3, 2, 4)).astype(np.float32), "b": rng.normal(size=(4,)).astype(np.float32)}
    nodes = [
        node("x", "Placeholder", dtype=tf.float32, shape=[1, 6, 6, 2]),
        *consts(weights),
        fused_conv2d("out", ["x", "w", "b"]),
    ]
    model = TfjsGraphModel(write_tfjs(tmp_path, nodes, weights, [1, 6, 6, 2]), batchable=False)
    assert model.rewrites["R2"] == 1
    x = rng.normal(size=(1, 6, 6, 2)).astype(np.float32)
    reference = tf.nn.relu(tf.nn.conv2d(x, weights["w"], 1, "SAME") + weights["b"]).numpy()
    assert np.allclose(model(x)[0], reference, atol=1e-5)


def test_r3_fused_depthwise_becomes_standard_ops(tmp_path):
    weights = {"w": rng.normal(size=(3, 3, 2, 1)).astype(np.float32), "b": rng.normal(size=(2,)).astype(np.float32)}
    nodes = [
        node("x", "Placeholder", dtype=tf.float32, shape=[1, 7, 7, 2]),
        *consts(weights),
        node(
            "dw",
            "FusedDepthwiseConv2dNative",
            ["x", "w", "b"],
            T=tf.float32,
            strides=[1, 2, 2, 1],
            padding="SAME",
            data_format="NHWC",
            dilations=[1, 1, 1, 1],
            fused_ops=["BiasAdd", "Relu6"],
        ),
        node("out", "Identity", ["dw"], T=tf.float32),
    ]
    model = TfjsGraphModel(write_tfjs(tmp_path, nodes, weights, [1, 7, 7, 2]), batchable=False)
    assert model.rewrites["R3"] == 1
    x = rng.normal(size=(1, 7, 7, 2)).astype(np.float32) * 3
    reference = tf.nn.relu6(tf.nn.depthwise_conv2d(x, weights["w"], [1, 2, 2, 1], "SAME") + weights["b"]).numpy()
    assert np.allclose(model(x)[0], reference, atol=1e-5)


def test_r5_batch_one_graph_runs_any_batch(tmp_path):
    weights = {"flat": np.array([1, 32], np.int32), "m": rng.normal(size=(32, 3)).astype(np.float32)}
    nodes = [
        node("x", "Placeholder", dtype=tf.float32, shape=[1, 4, 4, 2]),
        node("flat", "Const", dtype=tf.int32),
        node("m", "Const", dtype=tf.float32),
        node("r", "Reshape", ["x", "flat"], T=tf.float32, Tshape=tf.int32),
        node("out", "MatMul", ["r", "m"], T=tf.float32),
    ]
    path = write_tfjs(tmp_path, nodes, weights, [1, 4, 4, 2])
    model = TfjsGraphModel(path)
    assert model.rewrites["R5"] == 1 and model.input_shape[0] is None
    x = rng.normal(size=(5, 4, 4, 2)).astype(np.float32)
    batched = model(x)[0]
    singles = np.concatenate([model(x[i : i + 1])[0] for i in range(5)])
    assert batched.shape == (5, 3)
    assert np.allclose(batched, singles, atol=1e-6)
    assert np.allclose(batched, x.reshape(5, 32) @ weights["m"], atol=1e-5)


def test_unsupported_fused_ops_are_named(tmp_path):
    weights = {"w": np.ones((1, 1, 1, 1), np.float32), "b": np.ones((1,), np.float32)}
    nodes = [
        node("x", "Placeholder", dtype=tf.float32, shape=[1, 2, 2, 1]),
        *consts(weights),
        node(
            "out",
            "FusedDepthwiseConv2dNative",
            ["x", "w", "b"],
            T=tf.float32,
            strides=[1, 1, 1, 1],
            padding="SAME",
            fused_ops=["BiasAdd", "Prelu"],
        ),
    ]
    with pytest.raises(ValueError, match=r"out: unsupported fused_ops"):
        TfjsGraphModel(write_tfjs(tmp_path, nodes, weights, [1, 2, 2, 1]), batchable=False)


NANODET = ROOT / "models" / "nanodet.json"


def test_real_nanodet_batched_equals_single():
    import skimage.data
    from PIL import Image

    model = TfjsGraphModel(NANODET)
    photos = [skimage.data.coffee(), skimage.data.astronaut(), skimage.data.chelsea()]
    images = np.stack([np.asarray(Image.fromarray(p).convert("RGB").resize((416, 416))) for p in photos * 2])
    batch = nanodet.preprocess(images)
    batched = model(batch)
    for i in range(len(images)):
        single = model(batch[i : i + 1])
        for b_out, s_out in zip(batched, single):
            assert np.allclose(b_out[i], s_out[0], atol=1e-4)


def test_r6_plain_graph_converts_to_tflite_and_litert_agrees(tmp_path):
    """A fused conv and a fused matmul, split (R6), converted and run by LiteRT without TensorFlow's kernels."""
    from actors.models.litert import LiteModel

    weights = {
        "w": rng.normal(size=(3, 3, 2, 4)).astype(np.float32),
        "b": rng.normal(size=(4,)).astype(np.float32),
        "flat": np.array([-1, 144], np.int32),
        "m": rng.normal(size=(144, 3)).astype(np.float32),
        "c": rng.normal(size=(3,)).astype(np.float32),
    }
    nodes = [
        node("x", "Placeholder", dtype=tf.float32, shape=[1, 6, 6, 2]),
        *consts({k: v for k, v in weights.items() if k != "flat"}),
        node("flat", "Const", dtype=tf.int32),
        fused_conv2d("conv", ["x", "w", "b"]),
        node("r", "Reshape", ["conv", "flat"], T=tf.float32, Tshape=tf.int32),
        node("out", "_FusedMatMul", ["r", "m", "c"], T=tf.float32, fused_ops=["BiasAdd"], epsilon=0.0),
    ]
    model = TfjsGraphModel(write_tfjs(tmp_path, nodes, weights, [1, 6, 6, 2]), batchable=False, plain=True)
    assert model.rewrites == {"R6": 2}
    assert not [n for n in model._graph.as_graph_def().node if n.op.startswith(("_Fused", "Fused"))]
    flatbuffer = tf.compat.v1.lite.TFLiteConverter.from_session(
        model._session, [model._input], model._outputs
    ).convert()
    x = rng.normal(size=(3, 6, 6, 2)).astype(np.float32)  # (a batch: LiteRT runs it image by image)
    conv = tf.nn.relu(tf.nn.conv2d(x, weights["w"], 1, "SAME") + weights["b"]).numpy()
    reference = conv.reshape(3, 144) @ weights["m"] + weights["c"]
    (got,) = LiteModel(flatbuffer)(x)
    assert got.shape == (3, 3) and np.allclose(got, reference, atol=1e-4)
