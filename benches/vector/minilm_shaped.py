"""A MiniLM-shaped ONNX encoder with random weights, loadable by fastembed offline.

Six layers of 384-wide attention and 1536-wide feed-forward, like all-MiniLM-L6-v2 (single-head
attention: the same matrix-multiply work as 12 heads of 32). Its vectors mean nothing; its cost
grows with batch size and padded sequence length the way the real model's does, which is what the
batching benchmark measures. Tokenizer and configs come from the tests' tiny model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.tiny_model import build_onnx_model, register_tiny_model, tiny_vocab

HIDDEN, FFN, LAYERS = 384, 1536, 6


def _graph():  # type: ignore[no-untyped-def]
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    weights: list = []
    nodes: list = []

    def weight(name: str, shape: tuple[int, ...], scale: float = 0.05) -> str:
        weights.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def layer_norm(x: str, name: str) -> str:
        weights.append(numpy_helper.from_array(np.ones(HIDDEN, np.float32), f"{name}_g"))
        weights.append(numpy_helper.from_array(np.zeros(HIDDEN, np.float32), f"{name}_b"))
        return node("LayerNormalization", [x, f"{name}_g", f"{name}_b"], f"{name}_out", axis=-1)

    weights.append(numpy_helper.from_array(np.array([1], np.int64), "axis_1"))
    weights.append(numpy_helper.from_array(np.array([2], np.int64), "axis_2"))
    weights.append(numpy_helper.from_array(np.array(-1e4, np.float32), "neg_big"))
    weights.append(numpy_helper.from_array(np.array(1.0, np.float32), "one"))
    weights.append(numpy_helper.from_array(np.array(HIDDEN**-0.5, np.float32), "inv_sqrt_d"))

    x = node("Gather", [weight("words", (len(tiny_vocab()), HIDDEN), 1.0), "input_ids"], "x0")
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    bias = node("Mul", [node("Sub", ["one", mask], "inv_mask"), "neg_big"], "bias2d")
    bias = node("Unsqueeze", [bias, "axis_1"], "bias3d")  # [B, 1, S]
    for i in range(LAYERS):
        q = node("MatMul", [x, weight(f"wq{i}", (HIDDEN, HIDDEN))], f"q{i}")
        k = node("MatMul", [x, weight(f"wk{i}", (HIDDEN, HIDDEN))], f"k{i}")
        v = node("MatMul", [x, weight(f"wv{i}", (HIDDEN, HIDDEN))], f"v{i}")
        kt = node("Transpose", [k], f"kt{i}", perm=[0, 2, 1])
        scores = node("Mul", [node("MatMul", [q, kt], f"qk{i}"), "inv_sqrt_d"], f"scaled{i}")
        attn = node("Softmax", [node("Add", [scores, bias], f"masked{i}")], f"attn{i}", axis=-1)
        ctx = node("MatMul", [node("MatMul", [attn, v], f"ctx{i}"), weight(f"wo{i}", (HIDDEN, HIDDEN))], f"o{i}")
        x = layer_norm(node("Add", [x, ctx], f"res_a{i}"), f"ln_a{i}")
        hidden = node("Relu", [node("MatMul", [x, weight(f"w1{i}", (HIDDEN, FFN))], f"h{i}")], f"relu{i}")
        ffn = node("MatMul", [hidden, weight(f"w2{i}", (FFN, HIDDEN))], f"f{i}")
        x = layer_norm(node("Add", [x, ffn], f"res_b{i}"), f"ln_b{i}")
    node("Mul", [x, node("Unsqueeze", [mask, "axis_2"], "mask3d")], "last_hidden_state")

    batch_seq = ["batch", "sequence"]
    return helper.make_graph(
        nodes=nodes,
        name="minilm_shaped",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT64, batch_seq)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*batch_seq, HIDDEN])],
        initializer=weights,
    )


def build(folder: Path) -> tuple[str, Path]:
    """Writes the model into `folder`; returns (fastembed model name, folder)."""
    import onnx
    from onnx import helper

    build_onnx_model(folder, dims=HIDDEN)  # tokenizer.json and configs
    model = helper.make_model(_graph(), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    return register_tiny_model(dims=HIDDEN), folder
