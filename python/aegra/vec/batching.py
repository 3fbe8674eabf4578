"""Feeding the embedder: which texts a batch of puts needs, each distinct text once, in batches cut
by a padded-length budget over length-sorted texts.

Embedders pad every batch to its longest text (fastembed measured 2-8x slower on unsorted mixed
lengths), so batches hold texts of similar length; the budget counts characters (`len(text)`),
padded: a batch costs `len(batch) * longest`. About 4 characters make a token for English text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aegra.vec import _backend
from aegra.vec.packing import as_matrix
from aegra.vec.paths import get_text_at_path, tokenize_path

# ~64 texts of 512 tokens, or 256 of 128: sized for small local models.
DEFAULT_BUDGET = 32_768 * 4
DEFAULT_MAX_BATCH = 256


def dedupe_texts(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """`(first, inverse)`: the position where each distinct text first occurs, and for every
    position the index of its distinct text."""
    return _backend.current().dedupe_texts(list(texts))


def length_batches(
    texts: Sequence[str], budget: int = DEFAULT_BUDGET, max_batch: int = DEFAULT_MAX_BATCH
) -> list[list[int]]:
    """Positions of `texts` in embedder batches: shortest first (ties by position), each batch at
    most `max_batch` texts and `budget` padded characters; a text over budget goes alone."""
    if budget <= 0 or max_batch <= 0:
        raise ValueError(f"budget and max_batch must be positive, got budget={budget} and max_batch={max_batch}")
    return _backend.current().length_batches(list(texts), budget, max_batch)


@dataclass(frozen=True)
class TextPlan:
    """What a batch of puts needs embedded.

    `texts` are distinct; `owners[i]` lists every (position of the put in the batch, field name)
    that stores the vector of `texts[i]`. A path yielding several texts names them `path.0`,
    `path.1`...; a path yielding one keeps its own name.
    """

    texts: list[str] = field(default_factory=list)
    owners: list[list[tuple[int, str]]] = field(default_factory=list)

    def fields_by_position(self) -> dict[int, dict[str, int]]:
        """position -> field name -> index into `texts` (and into the embedded vectors)."""
        out: dict[int, dict[str, int]] = {}
        for text_index, owners in enumerate(self.owners):
            for position, name in owners:
                out.setdefault(position, {})[name] = text_index
        return out


def plan_texts(
    items: Sequence[tuple[Mapping[str, Any], Sequence[str] | None]], default_fields: Sequence[str] | None
) -> TextPlan:
    """For each (value, its own `index` paths or None for `default_fields`), the texts to embed.

    `default_fields=None` means `["$"]`, the whole value, as in LangGraph.
    """
    tokenized: dict[str, str | list[str]] = {}
    plain: dict[str, str | None] = {}
    names: list[tuple[int, str]] = []
    texts: list[str] = []
    defaults = default_fields or ["$"]
    for position, (value, paths) in enumerate(items):
        for path in paths if paths is not None else defaults:
            if path not in tokenized:
                tokenized[path] = path if path == "$" else tokenize_path(path)
                plain[path] = _plain_key(tokenized[path])
            key = plain[path]
            text = value.get(key) if key is not None and type(value) is dict else None
            # A top-level string field (the common index config) is its own text: the general
            # path walk crosses into the vector core and costs ~5 us an item, most of a fill's planning.
            if type(text) is str:
                names.append((position, path))
                texts.append(text)
                continue
            found = get_text_at_path(value, tokenized[path])
            for i, text in enumerate(found):
                names.append((position, f"{path}.{i}" if len(found) > 1 else path))
                texts.append(text)
    first, inverse = dedupe_texts(texts)
    owners: list[list[tuple[int, str]]] = [[] for _ in first]
    for name, unique in zip(names, inverse, strict=True):
        owners[unique].append(name)
    return TextPlan(texts=[texts[i] for i in first], owners=owners)


def _plain_key(tokens: str | list[str]) -> str | None:
    """The key of a path that names one top-level field (no index, wildcard or field set)."""
    if isinstance(tokens, list) and len(tokens) == 1:
        token = tokens[0]
        if token and token != "*" and token[0] not in "[{":
            return token
    return None


Embed = Callable[[list[str]], Sequence[Sequence[float]]]
AsyncEmbed = Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]]


def _batch_vectors(vectors: Sequence[Sequence[float]], batch: list[int], dims: int) -> np.ndarray:
    matrix = as_matrix(vectors, dims)
    if len(matrix) != len(batch):
        raise ValueError(f"the embedder returned {len(matrix)} vectors for {len(batch)} texts")
    return matrix


def embed_in_batches(texts: Sequence[str], embed: Embed, dims: int, **batching: int) -> np.ndarray:
    """Embeds `texts` batch by batch (see `length_batches`); row `i` is the vector of `texts[i]`."""
    out = np.empty((len(texts), dims), dtype=np.float32)
    for batch in length_batches(texts, **batching):
        out[batch] = _batch_vectors(embed([texts[i] for i in batch]), batch, dims)
    return out


async def aembed_in_batches(texts: Sequence[str], embed: AsyncEmbed, dims: int, **batching: int) -> np.ndarray:
    """`embed_in_batches` for an async embedder (batches run one after another)."""
    out = np.empty((len(texts), dims), dtype=np.float32)
    for batch in length_batches(texts, **batching):
        out[batch] = _batch_vectors(await embed([texts[i] for i in batch]), batch, dims)
    return out
