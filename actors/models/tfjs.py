"""Load a TF.js graph model (model.json + weight shards) into TensorFlow, offline.

Imports TensorFlow: only the ModelHolder process may import this module.

`tensorflowjs` no longer installs beside TF 2.21, so this is our own small loader.
The rewrites below are the ones measured as necessary (docs/config.md, `[[model]]`); each is a pure
function on a GraphDef, tested on a tiny graph in tests/test_tfjs.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import graph_pb2, node_def_pb2

__all__ = [
    "read_model",
    "read_weights",
    "attach_weights",
    "add_fused_conv_targs",
    "split_fused_depthwise",
    "split_fused",
    "make_batch_dynamic",
    "TfjsGraphModel",
]

_NUMPY_DTYPES = {
    "float32": np.float32,
    "int32": np.int32,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "float16": np.float16,
    "bool": np.bool_,
    "int64": np.int64,
}
_ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid", b"Tanh": "Tanh"}


def read_model(path: Path) -> tuple[dict, graph_pb2.GraphDef]:
    """model.json → (its JSON, the GraphDef of its modelTopology)."""
    model = json.loads(Path(path).read_text(encoding="utf-8"))
    if model.get("format") not in (None, "graph-model") or "modelTopology" not in model:
        raise ValueError(f"{path} is not a TF.js graph model (format {model.get('format')!r})")
    graph = json_format.ParseDict(model["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True)
    return model, graph


def read_weights(model: dict, directory: Path) -> dict[str, np.ndarray]:
    """Every weight of the manifest, dequantised to its declared dtype."""
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((Path(directory) / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            quant = spec.get("quantization")
            stored = np.dtype(_NUMPY_DTYPES[quant["dtype"] if quant else spec["dtype"]])
            count = math.prod(shape)
            raw = np.frombuffer(data, dtype=stored, count=count, offset=offset)
            offset += count * stored.itemsize
            if quant and quant["dtype"] == "float16":
                value = raw.astype(np.float32)
            elif quant:  # uint8 / uint16 affine quantisation
                value = raw.astype(np.float32) * quant["scale"] + quant["min"]
            else:
                value = raw.copy()
            weights[spec["name"]] = value.astype(_NUMPY_DTYPES.get(spec["dtype"], value.dtype)).reshape(shape)
        if offset != len(data):
            raise ValueError(f"weight shards hold {len(data)} bytes but the manifest describes {offset}")
    return weights


def attach_weights(graph: graph_pb2.GraphDef, weights: dict[str, np.ndarray]) -> None:
    """Give each Const node its weight. R1: build it with the node's own dtype (TF.js
    stores int64 as int32; nanodet's SparseToDense needs its int64 back)."""
    for node in graph.node:
        if node.op != "Const" or node.name not in weights:
            continue
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        value = weights[node.name].astype(dtype.as_numpy_dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype, shape=value.shape))


def _data_inputs(node: node_def_pb2.NodeDef) -> list[str]:
    return [i for i in node.input if not i.startswith("^")]


def add_fused_conv_targs(graph: graph_pb2.GraphDef) -> int:
    """R2: `_FusedConv2D` from TF.js lacks `num_args` / `TArgs`; TF 2.21 needs both."""
    changed = 0
    for node in graph.node:
        if node.op == "_FusedConv2D":
            num_args = len(_data_inputs(node)) - 2
            node.attr["num_args"].i = num_args
            node.attr["TArgs"].list.type[:] = [node.attr["T"].type] * num_args
            changed += 1
    return changed


# Fused ops and the plain op each starts with (then BiasAdd, then maybe an activation).
_UNFUSED = {"FusedDepthwiseConv2dNative": "DepthwiseConv2dNative", "_FusedConv2D": "Conv2D", "_FusedMatMul": "MatMul"}
_PLAIN_ATTRS = (
    "strides",
    "padding",
    "data_format",
    "dilations",
    "explicit_paddings",
    "use_cudnn_on_gpu",
    "transpose_a",
    "transpose_b",
)


def split_fused(graph: graph_pb2.GraphDef, ops: frozenset[str] = frozenset(_UNFUSED)) -> int:
    """A fused op `(x, w, b)` of `ops` → its plain op → BiasAdd → activation; the last node
    keeps the original name so consumers still find it. R3 for the TF.js-only depthwise op;
    R6 for all of them, for the TFLite converter (which knows none of TF's fused ops)."""
    new_nodes: list[node_def_pb2.NodeDef] = []
    changed = 0
    for node in graph.node:
        if node.op not in ops:
            new_nodes.append(node)
            continue
        changed += 1
        x, w, *extra = _data_inputs(node)
        controls = [i for i in node.input if i.startswith("^")]
        fused = list(node.attr["fused_ops"].list.s)
        if not fused or fused[0] != b"BiasAdd" or len(fused) > 2 or (len(fused) == 2 and fused[1] not in _ACTIVATIONS):
            raise ValueError(f"{node.name}: unsupported fused_ops {fused}")
        dtype = node.attr["T"]
        plain = node_def_pb2.NodeDef(name=f"{node.name}/plain", op=_UNFUSED[node.op], input=[x, w, *controls])
        plain.attr["T"].CopyFrom(dtype)
        for key in _PLAIN_ATTRS:
            if key in node.attr:
                plain.attr[key].CopyFrom(node.attr[key])
        has_activation = len(fused) == 2
        bias = node_def_pb2.NodeDef(
            name=f"{node.name}/bias" if has_activation else node.name, op="BiasAdd", input=[plain.name, extra[0]]
        )
        bias.attr["T"].CopyFrom(dtype)
        if "data_format" in node.attr:
            bias.attr["data_format"].CopyFrom(node.attr["data_format"])
        new_nodes += [plain, bias]
        if has_activation:
            act = node_def_pb2.NodeDef(name=node.name, op=_ACTIVATIONS[fused[1]], input=[bias.name])
            act.attr["T"].CopyFrom(dtype)
            new_nodes.append(act)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return changed


def split_fused_depthwise(graph: graph_pb2.GraphDef) -> int:
    """R3: TF.js-only `FusedDepthwiseConv2dNative` → DepthwiseConv2dNative → BiasAdd → activation."""
    return split_fused(graph, frozenset({"FusedDepthwiseConv2dNative"}))


def _placeholder(graph: graph_pb2.GraphDef, name: str) -> node_def_pb2.NodeDef:
    for node in graph.node:
        if node.name == name and node.op == "Placeholder":
            return node
    raise ValueError(f"no Placeholder named {name!r}")


def make_batch_dynamic(graph: graph_pb2.GraphDef, input_name: str, run_batch_of_one) -> int:
    """R5: let a graph fixed at batch 1 take any batch.

    Sets the input's first dim to -1, then gives every Reshape whose batch-1 output
    starts with 1 the shape [-1] + that output's shape[1:]. Without this, nanodet at
    batch 8 silently returns scrambled output. `run_batch_of_one(graph, names)` must
    return the batch-1 output shapes of the named nodes.
    """
    _placeholder(graph, input_name).attr["shape"].shape.dim[0].size = -1
    reshapes = [n for n in graph.node if n.op == "Reshape"]
    shapes = run_batch_of_one(graph, [n.name for n in reshapes])
    changed = 0
    for node in reshapes:
        shape = shapes[node.name]
        if not shape or shape[0] != 1:
            continue
        const = node_def_pb2.NodeDef(name=f"{node.name}/batch_shape", op="Const")
        const.attr["dtype"].type = tf.int32.as_datatype_enum
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.array([-1, *shape[1:]], np.int32)))
        graph.node.append(const)
        node.input[1] = const.name
        node.attr["Tshape"].type = tf.int32.as_datatype_enum
        changed += 1
    return changed


class TfjsGraphModel:
    """A TF.js graph model ready to run on a batch: `model(batch) -> list of outputs`."""

    def __init__(self, path: Path, batchable: bool = True, tap: str = "", plain: bool = False):
        """`plain`: split every fused op (R6), as the TFLite converter needs."""
        path = Path(path)
        model, graph = read_model(path)
        attach_weights(graph, read_weights(model, path.parent))
        if plain:
            self.rewrites = {"R6": split_fused(graph)}
        else:
            self.rewrites = {"R2": add_fused_conv_targs(graph), "R3": split_fused_depthwise(graph)}
        # Some converters put the signature under userDefinedMetadata (blazeface).
        signature = model.get("signature") or (model.get("userDefinedMetadata") or {}).get("signature") or {}
        inputs = list(signature.get("inputs", {}))
        self.input_name = (inputs[0] if inputs else "input_1:0").split(":")[0]
        # Outputs are keyed by tensor name, or by a signature name with the tensor under
        # "name" (movenet-multipose: "output_0" → "Identity:0").
        self.output_names = sorted((v or {}).get("name") or k for k, v in signature.get("outputs", {}).items()) or None
        if self.output_names is None:
            raise ValueError(f"{path}: no signature outputs")
        self.batchable = batchable
        if batchable:
            self.rewrites["R5"] = make_batch_dynamic(graph, self.input_name, self._shapes_at_batch_one)
        self._graph, self._session = self._build(graph)
        self._input = self._graph.get_tensor_by_name(f"{self.input_name}:0")
        self._outputs = [self._graph.get_tensor_by_name(n if ":" in n else f"{n}:0") for n in self.output_names]
        if tap:
            # An embedding: an inner feature map [N,H,W,C], averaged over H and W.
            with self._graph.as_default():
                self._outputs = [tf.reduce_mean(self._graph.get_tensor_by_name(f"{tap}:0"), axis=[1, 2])]

    @staticmethod
    def _build(graph_def: graph_pb2.GraphDef):
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        return graph, tf.compat.v1.Session(graph=graph)

    def _shapes_at_batch_one(self, graph_def: graph_pb2.GraphDef, names: list[str]) -> dict[str, list[int]]:
        graph, session = self._build(graph_def)
        placeholder = graph.get_tensor_by_name(f"{self.input_name}:0")
        shape = [1 if d is None else d for d in placeholder.shape.as_list()]
        feed = np.zeros(shape, placeholder.dtype.as_numpy_dtype)
        fetched = session.run([graph.get_tensor_by_name(f"{n}:0") for n in names], {placeholder: feed})
        session.close()
        return {n: list(v.shape) for n, v in zip(names, fetched)}

    @property
    def input_shape(self) -> list[int | None]:
        return self._input.shape.as_list()

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        if self.batchable or len(batch) == 1:
            return self._session.run(self._outputs, {self._input: batch})
        # A graph that unpacks one image (MoveNet) runs a batch as a loop, in this one call.
        each = [self._session.run(self._outputs, {self._input: batch[i : i + 1]}) for i in range(len(batch))]
        return [np.concatenate(parts) for parts in zip(*each)]
