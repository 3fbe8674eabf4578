"""What the SQLite store writes for a batch of puts: the last put per (namespace, key), and its
texts embedded into float32 vectors and int8 code records, outside any transaction. When the
embedder is unavailable the items are marked as waiting for their vectors instead (`backfill.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import IndexConfig, PutOp, ensure_embeddings

from aegra import vec
from aegra.store.backfill import Backfill
from aegra.store.embeddings import EmbeddingUnavailableError, build_embeddings
from aegra.store.quick_embed import quick_when_sync
from aegra.store.sqlite_writes import ItemWrite


class PutVectors:
    """The store's embedder of puts (`index`: the store's index config, None without one)."""

    def __init__(self, index: IndexConfig | None) -> None:
        self.embeddings = _embeddings(index) if index else None
        self.dims = int(index["dims"]) if index else 0
        # As in LangGraph's stores, an index config without fields (or with an empty list) embeds `$`.
        # None: the whole value (`$`), as LangGraph embeds when the index config names no fields.
        self.field_paths: list[str] | None = (list(index.get("fields") or []) or None) if index else None
        # The code records' encoder: the index's own once the store has one (`AsyncSqliteStore.setup`).
        self.encode: Callable[[Any], bytes] = lambda embedded: vec.encode_codes(embedded, self.dims)
        self.backfill: Backfill[Any] | None = None

    async def prepare(self, ops: Sequence[PutOp], now: datetime, *, may_wait: bool = True) -> list[ItemWrite]:
        """Last write per (namespace, key) wins; embeddings (and their code records) are computed
        here. `may_wait`: when the embedder is unavailable, the items are marked as waiting for
        their vectors instead of failing."""
        if not ops:
            return []
        latest = {(op.namespace, op.key): op for op in ops}
        writes = [_item_write(op, now) for op in latest.values()]
        if self.embeddings is None:
            return writes
        await self.embed_writes([w for w in writes if w.value is not None and w.index is not False], may_wait=may_wait)
        return writes

    async def embed_writes(self, to_index: Sequence[ItemWrite], *, may_wait: bool = False) -> None:
        """Fill in the vectors (and code records) of `to_index`, or with `may_wait` mark the items
        that have texts as waiting when the embedder is unavailable (or known to be down)."""
        # The vector core plans the texts (LangGraph's field paths, equal texts once) and cuts the
        # embedder's batches by length, so short texts are not padded to the longest one.
        plan = vec.plan_texts(
            [(w.value or {}, None if w.index is None else list(w.index or ())) for w in to_index], self.field_paths
        )
        if not plan.texts:
            return
        backfill = self.backfill if may_wait else None
        try:
            if backfill is not None and backfill.down:
                raise EmbeddingUnavailableError("the embedder is down")
            embedded = await vec.aembed_in_batches(plan.texts, self.embed, self.dims)
        except EmbeddingUnavailableError as exc:
            if backfill is None:
                raise
            backfill.went_down(exc)
            for owners in plan.owners:
                for position, _ in owners:
                    to_index[position].waiting = True
            return
        try:
            # The code records' encoder validates the vectors exactly as `pack_vectors` does (size,
            # NaN/inf, a squared norm overflowing float32), so the float32 BLOBs are the matrix's
            # bytes: packing them as well validated every vector twice (~0.4 us an item).
            matrix = vec.as_matrix(embedded, self.dims)
            records = self.encode(matrix)
        except ValueError as exc:  # an embedder passed in as an object, whose output is not checked
            raise ValueError(f"the embedding function returned an unusable vector: {exc}") from exc
        floats = matrix.astype("<f4", copy=False).tobytes()
        blob, size = vec.blob_size(self.dims), vec.code_record_size(self.dims)
        for i, owners in enumerate(plan.owners):
            pair = (floats[i * blob : (i + 1) * blob], records[i * size : (i + 1) * size])
            for position, name in owners:
                to_index[position].vectors[name] = pair

    async def embed(self, texts: list[str]) -> list[list[float]]:
        assert self.embeddings is not None
        return await self.embeddings.aembed_documents(texts)


def _embeddings(index: IndexConfig) -> Embeddings:
    # A provider string ("fastembed:...", "./file.py:fn") goes through Aegra's builder rather than
    # LangChain's init_embeddings, which knows neither fastembed nor user files.
    embed = index["embed"]
    if isinstance(embed, str):
        return build_embeddings(embed, int(index["dims"]))
    return quick_when_sync(ensure_embeddings(embed))  # a sync function's queries: see quick_embed.py


def _item_write(op: PutOp, now: datetime) -> ItemWrite:
    ttl = op.ttl
    expires_at = None if ttl is None else (now + timedelta(minutes=ttl)).timestamp()
    value = None if op.value is None else dict(op.value)
    return ItemWrite(op.namespace, op.key, value, op.index, expires_at, ttl)
