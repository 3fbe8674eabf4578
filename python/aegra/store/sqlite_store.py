"""`AsyncSqliteStore`: LangGraph's long-term memory store on the server's SQLite file.

Semantics follow LangGraph's `InMemoryStore` (the reference the conformance suite compares
against), with these deliberate differences, all shared with LangGraph's SQL stores or plain fixes:
- search without a query returns the most recently updated items first (InMemoryStore: insertion
  order); `created_at` survives an overwrite;
- an overwrite replaces the item's vectors (InMemoryStore keeps stale ones);
- in a semantic search, items without vectors follow the scored ones and are paged with them
  (InMemoryStore repeats them on every page); `index=["$"]` on a put embeds the whole value;
- only namespaces that hold items are listed;
- TTL is supported (InMemoryStore has none): `ttl` minutes per item, refreshed on read when asked,
  `TTLConfig.default_ttl`, `omit_expired`, and a sweeper task.

Within one batch, reads see the state before the batch's writes, as in InMemoryStore.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiosqlite
import msgspec
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    validate_op_namespace,
)

from aegra import vec
from aegra.periodic import PeriodicSweep
from aegra.store import filters, knn, namespaces, schema, vectors
from aegra.store.embeddings import build_embeddings
from aegra.store.store_writes import Connection, PreparedPut, Written, delete_expired, write_puts
from aegra.store.vector_cache import VectorCache

logger = logging.getLogger(__name__)

# ttl_minutes last: reads refresh expiry only for rows that have a TTL, so a plain read never writes.
ITEM_COLUMNS = "id, prefix, key, value, created_at, updated_at, ttl_minutes"
ScoredRow = tuple[Sequence[Any], float | None]
# "index": the vector core's in-memory index (vector_cache.py), the default; the other two score
# inside SQLite or in numpy from the blobs, and serve as references in tests.
VectorScoring = Literal["auto", "index", "sqlite-vec", "numpy"]


class AsyncSqliteStore(BaseStore):
    """A `BaseStore` on one SQLite file: items in `store_items`, vectors (sqlite-vec blobs) beside them."""

    supports_ttl = True

    def __init__(
        self,
        path: str | Path,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        busy_timeout_ms: int = 5000,
        vector_scoring: VectorScoring = "auto",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.ttl_config = ttl
        self.index_config = dict(index) if index else None
        self.embeddings = _embeddings(index) if index else None
        self.dims = int(index["dims"]) if index else 0
        # As in LangGraph's stores, an index config without fields (or with an empty list) embeds `$`.
        # None: the whole value (`$`), as LangGraph embeds when the index config names no fields.
        self._field_paths: list[str] | None = (list(index.get("fields") or []) or None) if index else None
        self._busy_timeout_ms = busy_timeout_ms
        self._requested_scoring = vector_scoring
        self.scorer: knn.Scorer | Literal["index"] = "numpy"
        self._cache: VectorCache | None = None
        self._clock = clock or (lambda: datetime.now(UTC))
        self._conn: aiosqlite.Connection | None = None
        # Writes go through their own inline connection (db/inline_sqlite.py): a put made about
        # seven aiosqlite thread round trips per item, each costing more than its statement.
        # Reads and scans stay on aiosqlite's thread, where a long one does not hold the loop.
        self._writer: Connection | None = None
        self._lock = asyncio.Lock()  # one connection: statements of two tasks must not interleave
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper = PeriodicSweep(self.sweep_ttl, (ttl or {}).get("sweep_interval_minutes"), "store items")

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def from_path(cls, path: str | Path, **kwargs: Any) -> AsyncIterator[AsyncSqliteStore]:
        """Open, set up, yield and close a store on `path`."""
        store = cls(path, **kwargs)
        await store.setup()
        try:
            yield store
        finally:
            await store.aclose()

    async def setup(self) -> None:
        """Open the connection and create the tables; safe to call again."""
        if self._conn is not None:
            return
        conn, has_vec = await schema.connect(self.path, self._busy_timeout_ms)
        try:
            self.scorer = _pick_scorer(self._requested_scoring, has_vec)
            await schema.create_tables(conn)
            if self.index_config:
                await self._check_dims(conn)
                if self.scorer == "index":
                    self._cache = VectorCache(self.dims)
                    await self._cache.load(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._writer = conn if str(self.path) == ":memory:" else schema.connect_writer(self.path, self._busy_timeout_ms)
        self._loop = asyncio.get_running_loop()

    async def aclose(self) -> None:
        await self.stop_ttl_sweeper()
        if self._writer is not None and self._writer is not self._conn:
            await self._writer.close()
        self._writer = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def _check_dims(self, conn: aiosqlite.Connection) -> None:
        stored = await schema.read_meta(conn, "dims")
        if stored is not None and int(stored) != self.dims:
            # Vectors of another size cannot be compared with new ones; they are skipped by every
            # search (blob size filter) until the items are written again or `areindex()` runs.
            logger.warning(
                "store vectors in %s have %s dimensions but store.index.dims is %d; "
                "they are ignored until re-indexed (AsyncSqliteStore.areindex)",
                self.path,
                stored,
                self.dims,
            )
            return
        if stored is None:
            await schema.write_meta(conn, "dims", str(self.dims))

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("AsyncSqliteStore is not open; call `await store.setup()` first")
        return self._conn

    @property
    def writer(self) -> Connection:
        if self._writer is None:
            raise RuntimeError("AsyncSqliteStore is not open; call `await store.setup()` first")
        return self._writer

    def _now(self) -> datetime:
        return self._clock()

    # -- BaseStore ------------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Sync entry point for graph nodes running in worker threads; runs on the store's loop."""
        if self._loop is None or self._loop.is_closed():
            raise RuntimeError("AsyncSqliteStore is not open; call `await store.setup()` first")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise asyncio.InvalidStateError(
                "Synchronous calls to AsyncSqliteStore are only allowed from a thread other than "
                "the event loop's; use the async methods (aget, aput, asearch...) there"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), self._loop).result()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        for op in ops:
            validate_op_namespace(op)
            if isinstance(op, SearchOp):
                filters.validate(op.filter)
            elif not isinstance(op, (GetOp, PutOp, ListNamespacesOp)):
                raise ValueError(f"Unknown operation type: {type(op)}")
        results: list[Result] = [None] * len(ops)
        queries = await self._embed_queries(op for op in ops if isinstance(op, SearchOp))
        puts = await self._prepare_puts([op for op in ops if isinstance(op, PutOp)])
        async with self._lock:
            for i, op in enumerate(ops):
                if isinstance(op, GetOp):
                    results[i] = await self._get(op)
                elif isinstance(op, SearchOp):
                    results[i] = await self._search(op, queries.get(op.query or ""))
                elif isinstance(op, ListNamespacesOp):
                    results[i] = await self._list_namespaces(op)
            if puts:
                self._follow(await write_puts(self.writer, puts, self._now()))
        return results

    # -- reads ----------------------------------------------------------------------------------

    def _live_condition(self, alias: str) -> tuple[str, list[Any]]:
        if self.ttl_config and self.ttl_config.get("omit_expired"):
            return f" AND ({alias}.expires_at IS NULL OR {alias}.expires_at > ?)", [self._now().timestamp()]
        return "", []

    async def _get(self, op: GetOp) -> Item | None:
        live, live_params = self._live_condition("i")
        sql = f"SELECT {ITEM_COLUMNS} FROM store_items i WHERE prefix = ? AND key = ?{live}"
        params = [namespaces.to_text(op.namespace), op.key, *live_params]
        async with self.conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        if op.refresh_ttl and row[6] is not None:
            await self._refresh_ttl([int(row[0])])
        return _item(row)

    def _where(self, op: SearchOp) -> tuple[str, list[Any]]:
        """SQL condition on `store_items i`: in the namespace prefix, passing the filter, alive."""
        where, params = namespaces.prefix_condition(op.namespace_prefix, "i.prefix")
        prefilter, prefilter_params = filters.sql_prefilter(op.filter, "i.value")
        where += prefilter
        params += prefilter_params
        filter_json = filters.encode(op.filter)
        if filter_json is not None:
            where += f" AND {filters.FILTER_FUNCTION}(i.value, ?)"
            params.append(filter_json)
        live, live_params = self._live_condition("i")
        return where + live, [*params, *live_params]

    async def _search(self, op: SearchOp, query_vector: list[float] | None) -> list[SearchItem]:
        where, params = self._where(op)
        if query_vector is None:
            # No CTE here: SQLite walks the updated_at index and stops at the page's end.
            sql = (
                f"SELECT {ITEM_COLUMNS} FROM store_items i WHERE {where} "
                "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?"
            )
            async with self.conn.execute(sql, [*params, op.limit, op.offset]) as cursor:
                found: list[ScoredRow] = [(row, None) for row in await cursor.fetchall()]
        else:
            # Materialized once, so the filter runs once per item whatever the number of vectors.
            candidates = f"WITH candidates AS MATERIALIZED (SELECT id FROM store_items i WHERE {where})"
            found = await self._semantic_search(op, where, candidates, params, query_vector)
        if op.refresh_ttl:
            expiring = [int(row[0]) for row, _ in found if row[6] is not None]
            if expiring:
                await self._refresh_ttl(expiring)
        return [_search_item(row, score) for row, score in found]

    async def _semantic_search(
        self, op: SearchOp, where: str, candidates: str, params: list[Any], query_vector: list[float]
    ) -> list[ScoredRow]:
        k = op.offset + op.limit
        if self._cache is not None and not op.filter and not self._live_condition("i")[0]:
            ranked = await self._cache.search(query_vector, k, namespace_prefix=op.namespace_prefix)
        elif self._cache is not None:
            # Best-scored rows first, SQL checking the filter on them only (see `rank_filtered`).
            ranked = await self._cache.rank_filtered(
                self.conn, where, candidates, params, query_vector, k, op.namespace_prefix
            )
        else:
            ranked = await knn.rank(self.conn, candidates, params, query_vector, self.dims, k, self.scorer)  # type: ignore[arg-type]
        rows_by_id = await self._rows_by_id([item_id for item_id, _ in ranked[op.offset :]])
        found: list[ScoredRow] = [(rows_by_id[item_id], score) for item_id, score in ranked[op.offset :]]
        if len(ranked) < op.offset + op.limit:
            # Scored items ran out: the page continues with the candidates that have no vectors.
            skip = max(0, op.offset - len(ranked))
            sql = (
                f"{candidates} SELECT {ITEM_COLUMNS} FROM store_items WHERE id IN ("
                "SELECT id FROM candidates c WHERE NOT EXISTS ("
                "SELECT 1 FROM store_item_vectors v WHERE v.item_id = c.id AND length(v.embedding) = ?)) "
                "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?"
            )
            extra = [vectors.blob_size(self.dims), op.limit - len(found), skip]
            async with self.conn.execute(sql, [*params, *extra]) as cursor:
                found += [(row, None) for row in await cursor.fetchall()]
        return found

    async def _rows_by_id(self, ids: Sequence[int]) -> dict[int, aiosqlite.Row]:
        if not ids:
            return {}
        sql = f"SELECT {ITEM_COLUMNS} FROM store_items WHERE id IN (SELECT value FROM json_each(?))"
        async with self.conn.execute(sql, [msgspec.json.encode(list(ids)).decode()]) as cursor:
            return {int(row[0]): row for row in await cursor.fetchall()}

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        where, params = namespaces.prefix_condition(namespaces.literal_prefix(op), "i.prefix")
        live, live_params = self._live_condition("i")
        sql = f"SELECT DISTINCT prefix FROM store_items i WHERE {where}{live}"
        async with self.conn.execute(sql, [*params, *live_params]) as cursor:
            found = [namespaces.from_text(row[0]) for row in await cursor.fetchall()]
        return namespaces.list_namespaces(op, found)

    async def _embed_queries(self, ops: Iterable[SearchOp]) -> dict[str, list[float]]:
        if self.embeddings is None:
            return {}
        texts = list({op.query for op in ops if op.query})
        if not texts:
            return {}
        embedded = await asyncio.gather(*(self.embeddings.aembed_query(text) for text in texts))
        vectors.check_dims(embedded, self.dims, "the embedding function")
        return dict(zip(texts, embedded, strict=True))

    # -- writes ---------------------------------------------------------------------------------

    async def _prepare_puts(self, ops: Sequence[PutOp]) -> list[PreparedPut]:
        """Last write per (namespace, key) wins; embeddings are computed here, outside any transaction."""
        latest = {(op.namespace, op.key): op for op in ops}
        now = self._now()
        prepared = [PreparedPut.from_op(op, now) for op in latest.values()]
        if self.embeddings is None:
            return prepared
        to_index = [p for p in prepared if p.value is not None and p.index is not False]
        # The vector core plans the texts (LangGraph's field paths, equal texts once) and cuts the
        # embedder's batches by length, so short texts are not padded to the longest one.
        plan = vec.plan_texts(
            [(p.value or {}, None if p.index is None else list(p.index or ())) for p in to_index], self._field_paths
        )
        if not plan.texts:
            return prepared
        embedded = await vec.aembed_in_batches(plan.texts, self._embed_checked, self.dims)
        for blob, owners in zip(vec.pack_vectors(embedded, self.dims, normalize=False), plan.owners, strict=True):
            for position, field in owners:
                to_index[position].vectors[field] = blob
        return prepared

    async def _embed_checked(self, texts: list[str]) -> list[list[float]]:
        assert self.embeddings is not None
        embedded = await self.embeddings.aembed_documents(texts)
        vectors.check_dims(embedded, self.dims, "the embedding function")
        vectors.check_finite(embedded, "the embedding function")
        return embedded

    async def _refresh_ttl(self, ids: Sequence[int]) -> None:
        sql = (
            "UPDATE store_items SET expires_at = ? + ttl_minutes * 60 "
            "WHERE ttl_minutes IS NOT NULL AND id IN (SELECT value FROM json_each(?))"
        )
        await self.writer.execute(sql, [self._now().timestamp(), msgspec.json.encode(list(ids)).decode()])

    async def areindex(self) -> int:
        """Embed every item again (after a model or dims change), honouring each put's own `index`."""
        if self.embeddings is None:
            raise ValueError("the store has no index config; nothing to re-index")
        sql = "SELECT prefix, key, value, index_spec FROM store_items"
        async with self._lock, self.conn.execute(sql) as cursor:
            rows = await cursor.fetchall()
        puts = [
            PutOp(
                namespaces.from_text(r[0]),
                r[1],
                msgspec.json.decode(r[2]),
                None if r[3] is None else msgspec.json.decode(r[3]),
            )
            for r in rows
        ]
        prepared = await self._prepare_puts(puts)
        async with self._lock:
            self._follow(await write_puts(self.writer, prepared, self._now(), vectors_only=True))
            await schema.write_meta(self.writer, "dims", str(self.dims))
        return len(prepared)

    # -- TTL ------------------------------------------------------------------------------------

    async def sweep_ttl(self) -> int:
        """Delete expired items and their vectors; returns how many items went."""
        async with self._lock:
            expired = await delete_expired(self.writer, self._now().timestamp())
        if self._cache is not None:
            self._cache.drop(expired)
        return len(expired)

    def _follow(self, written: Written) -> None:
        """Bring the in-memory vector cache up to date with a committed batch."""
        if self._cache is None:
            return
        self._cache.drop(written.deleted)
        for item_id, namespace, blobs in written.vectors:
            self._cache.put(item_id, namespace, blobs)

    async def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> asyncio.Task[None]:
        """Start deleting expired items every `sweep_interval_minutes` (default: the TTL config's, else 5)."""
        return self._sweeper.start(sweep_interval_minutes)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (LangGraph API)
        """Stop the sweeper; True when it is no longer running."""
        return await self._sweeper.stop(timeout)


def _embeddings(index: IndexConfig) -> Embeddings:
    # A provider string ("fastembed:...", "./file.py:fn") goes through Aegra's builder rather than
    # LangChain's init_embeddings, which knows neither fastembed nor user files.
    embed = index["embed"]
    if isinstance(embed, str):
        return build_embeddings(embed, int(index["dims"]))
    return ensure_embeddings(embed)


def _pick_scorer(requested: VectorScoring, has_vec: bool) -> knn.Scorer | Literal["index"]:
    if requested == "sqlite-vec" and not has_vec:
        raise RuntimeError("vector_scoring='sqlite-vec' was asked for, but sqlite-vec is not loadable here")
    if requested in ("auto", "index"):
        return "index"
    return requested


def _item(row: Sequence[Any]) -> Item:
    return Item(
        namespace=namespaces.from_text(row[1]),
        key=row[2],
        value=msgspec.json.decode(row[3]),
        created_at=datetime.fromisoformat(row[4]),
        updated_at=datetime.fromisoformat(row[5]),
    )


def _search_item(row: Sequence[Any], score: float | None) -> SearchItem:
    return SearchItem(
        namespace=namespaces.from_text(row[1]),
        key=row[2],
        value=msgspec.json.decode(row[3]),
        created_at=datetime.fromisoformat(row[4]),
        updated_at=datetime.fromisoformat(row[5]),
        score=score,
    )
