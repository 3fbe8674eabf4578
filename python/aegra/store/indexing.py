"""Which texts of a put get embedded, under which field names - LangGraph's field-path rules.

`fields` entries use LangGraph's path syntax (`a.b`, `a[0]`, `a[*]`, `a[-1]`, `{a,b}`, `$` for the
whole value). A path yielding several texts stores one vector per text, named `path.0`, `path.1`...
Equal texts are embedded once. This is one of the hot paths the Rust core will take over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.store.base import get_text_at_path, tokenize_path

TokenizedField = tuple[str, str | list[str]]
# text -> every (position of the put in the batch, field name) that needs its vector
EmbedPlan = dict[str, list[tuple[int, str]]]


def tokenize_fields(fields: Sequence[str] | None) -> list[TokenizedField]:
    """None means the whole value (`$`); an empty list means nothing."""
    return [(path, path if path == "$" else tokenize_path(path)) for path in (["$"] if fields is None else fields)]


def plan_embeddings(
    values: Sequence[tuple[Mapping[str, Any], Sequence[str] | None]],
    default_fields: Sequence[TokenizedField],
) -> EmbedPlan:
    """For each (value, explicit index paths or None for the configured fields), the texts to embed."""
    plan: EmbedPlan = {}
    for position, (value, paths) in enumerate(values):
        fields = default_fields if paths is None else tokenize_fields(paths)
        for path, tokens in fields:
            texts = get_text_at_path(value, tokens)
            for i, text in enumerate(texts):
                name = f"{path}.{i}" if len(texts) > 1 else path
                plan.setdefault(text, []).append((position, name))
    return plan
