"""Telling fastembed about an ONNX model that lives in a local folder (no hub involved)."""

from __future__ import annotations


def register_onnx_model(name: str, dims: int) -> str:
    """A mean-pooled, normalized BERT-style model called `name` (once per process); returns `name`.

    Load it with `TextEmbedding(model_name=name, specific_model_path=<folder with model.onnx>)`.
    """
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    if not any(m["model"] == name for m in TextEmbedding.list_supported_models()):
        TextEmbedding.add_custom_model(
            model=name,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf=name),
            dim=dims,
            model_file="model.onnx",
        )
    return name
