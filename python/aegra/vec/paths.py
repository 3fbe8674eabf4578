"""Texts at LangGraph field paths (`a.b`, `a[0]`, `a[-1]`, `a[*]`, `a.{x,y}`, `*`, `$`).

Output is identical to `langgraph.store.base.embed.get_text_at_path` on every input (a hypothesis
test holds both backends to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aegra.vec import _backend


def tokenize_path(path: str) -> list[str]:
    return list(_backend.current().tokenize_path(path))


def get_text_at_path(obj: Any, path: str | list[str]) -> list[str]:
    """The texts to embed for `path` in `obj`; `""`/`"$"` is the whole value as JSON."""
    if isinstance(obj, Mapping) and not isinstance(obj, dict):
        obj = dict(obj)  # as LangGraph does, at the top level only
    return list(_backend.current().get_text_at_path(obj, path))
