"""Tiny embedding models for store tests.

- `embed`: a deterministic in-process embedder. Each word maps to a seeded random dense vector and a
  text to the sum of its words' vectors, so texts sharing words score higher and distinct texts
  almost never tie (which keeps the rankings of two stores comparable).
- `build_onnx_model`: a BERT-shaped ONNX model and tokenizer in a folder, for fastembed's real
  loading path without a model hub.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from tests.support.local_models import register_onnx_model

DIMS = 32


def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIMS)


def embed(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        vector = np.zeros(DIMS)
        for word in re.findall(r"\w+", text.lower()):
            vector += _word_vector(word)
        out.append(vector.tolist())
    return out


# -- a tiny BERT-shaped ONNX model for fastembed ------------------------------------------------------

TINY_MODEL_NAME = "aegra-tests/tiny-bert"
TINY_MODEL_DIMS = 128
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_WORDS = sorted(
    set(
        (  # noqa: SIM905 (a word list reads better as text)
            "the a an and or but of to in on at for with from by about as into over after before under "
            "i you he she it we they me him her us them my your his its our their this that these those "
            "is are was were be been being have has had do does did will would can could should may might "
            "cat cats dog dogs bird fish horse cow sheep mouse lion tiger bear wolf fox rabbit duck "
            "apple banana orange grape lemon bread cheese butter milk coffee tea water wine beer soup rice "
            "pasta pizza salad cake cookie sugar salt pepper egg meat chicken beef pork fruit "
            "python rust java code program programming software computer database server network memory "
            "search vector index query store file disk cloud data model learning machine language "
            "red green blue yellow black white brown purple pink gray "
            "one two three four five six seven eight nine ten hundred thousand "
            "house home room kitchen garden door window table chair bed car bus train plane boat bike road "
            "city town village country river lake sea ocean mountain hill forest tree flower grass sun moon "
            "star sky rain snow wind storm winter summer spring autumn day night morning evening week year "
            "run walk swim fly eat drink sleep read write sing dance play work cook bake travel "
            "happy sad big small old new good bad fast slow hot cold warm long short high low "
            "music song movie book story paper news game sport football tennis chess art painting "
            "doctor teacher student friend family mother father child baby brother sister "
            "money price market bank shop buy sell pay cost job office meeting email phone"
        ).split()
    )
)


def tiny_vocab() -> list[str]:
    return [*SPECIAL_TOKENS, *TINY_WORDS]


def build_onnx_model(folder: Path, dims: int = TINY_MODEL_DIMS, seed: int = 7, pad_to_bytes: int = 0) -> Path:
    """Write `model.onnx`, `tokenizer.json` and configs for a BERT-shaped model into `folder`.

    `pad_to_bytes`: make `model.onnx` about that large with an unused tensor, to stand for a real
    model's download size (the model computes the same).

    The graph takes input_ids / attention_mask / token_type_ids like BERT and returns
    last_hidden_state [batch, seq, dims]: a seeded random embedding per word (zero for special
    tokens), masked. With fastembed's mean pooling and normalization, a text's vector is the
    normalized mean of its words' vectors, so texts sharing words are close.
    """
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    table = np.random.default_rng(seed).standard_normal((len(vocab), dims)).astype(np.float32)
    table[: len(SPECIAL_TOKENS)] = 0.0
    token_types = np.zeros((2, dims), dtype=np.float32)

    batch_seq = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Gather", ["word_table", "input_ids"], ["words"]),
            helper.make_node("Gather", ["type_table", "token_type_ids"], ["types"]),
            helper.make_node("Add", ["words", "types"], ["summed"]),
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_f", "axis_2"], ["mask_3d"]),
            helper.make_node("Mul", ["summed", "mask_3d"], ["last_hidden_state"]),
        ],
        name="tiny_bert",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, batch_seq),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, batch_seq),
            helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, batch_seq),
        ],
        outputs=[helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*batch_seq, dims])],
        initializer=[
            numpy_helper.from_array(table, "word_table"),
            numpy_helper.from_array(token_types, "type_table"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis_2"),
            *(
                [numpy_helper.from_array(np.zeros(pad_to_bytes // 4, dtype=np.float32), "padding")]
                if pad_to_bytes
                else []
            ),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older onnxruntime builds too
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))

    tokenizer = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    configs = {
        "config.json": {"model_type": "bert", "hidden_size": dims, "pad_token_id": 0},
        "tokenizer_config.json": {"model_max_length": 128, "pad_token": "[PAD]", "do_lower_case": True},
        "special_tokens_map.json": {
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        },
    }
    for name, content in configs.items():
        (folder / name).write_text(json.dumps(content))
    return folder


def register_tiny_model(dims: int = TINY_MODEL_DIMS) -> str:
    """Describe the tiny model to fastembed (once per process); returns its model name."""
    return register_onnx_model(TINY_MODEL_NAME, dims)
