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
  `TTLConfig.default_ttl`, `omit_expired`, and a sweeper task;
- a put whose texts cannot be embedded (`EmbeddingUnavailableError`) is saved at once without
  vectors, marked as waiting for them; a background task embeds it when the embedder answers
  (`sqlite_backfill.py`, `backfill.py`). A semantic search whose query cannot be embedded is
  answered as a listing (unscored); `acount_waiting` says how many items wait.

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
    validate_op_namespace,
)

from aegra import vec
from aegra.periodic import PeriodicSweep
from aegra.store import filters, namespaces, sqlite_connections, sqlite_writes
from aegra.store import sqlite_tables as tables
from aegra.store.backfill import Backfill
from aegra.store.embeddings import EmbeddingUnavailableError
from aegra.store.observed import observed
from aegra.store.sqlite_backfill import SqliteWaitingQueue
from aegra.store.sqlite_put_vectors import PutVectors
from aegra.store.sqlite_reads import StoreReads
from aegra.store.sqlite_tables import Connection
from aegra.store.sqlite_writes import Written
from aegra.store.vector_cache import VectorCache

logger = logging.getLogger(__name__)

ScoredRow = tuple[Sequence[Any], float | None]
# Which implementation of the vector core serves the index: the default (Rust when the extension
# is importable), or one of them by name (tests run the suite on both).
VectorBackend = Literal["auto", "rust", "python"]
CHECKED_NAMESPACES_KEPT = 65536  # namespaces whose labels are known valid (`_validate_namespace`)


class AsyncSqliteStore(BaseStore):
    """A `BaseStore` on one SQLite file: items in `store_items`, vectors and their int8 code records
    beside them (`sqlite_tables.py`, `sqlite_writes.py`), an in-memory index of the codes for semantic search."""

    supports_ttl = True

    def __init__(
        self,
        path: str | Path,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        busy_timeout_ms: int = 5000,
        vector_backend: VectorBackend = "auto",
        clock: Callable[[], datetime] | None = None,
        embed_waiting: bool = True,
    ) -> None:
        """`embed_waiting`: run the background embedder of the items waiting for their vectors
        (False for a command that only reads or copies the store, such as `aegra db export`)."""
        self.path = Path(path)
        self.ttl_config = ttl
        self.index_config = dict(index) if index else None
        # What a batch of puts is written with: their vectors and code records (`sqlite_put_vectors.py`).
        self.put_vectors = PutVectors(index)
        self.embeddings = self.put_vectors.embeddings
        self.dims = self.put_vectors.dims
        self._busy_timeout_ms = busy_timeout_ms
        self._vector_backend = None if vector_backend == "auto" else vector_backend
        self._cache: VectorCache | None = None
        self._clock = clock or (lambda: datetime.now(UTC))
        self._conn: aiosqlite.Connection | None = None
        # Writes go through their own inline connection (sqlite_connections.py); reads and scans
        # stay on aiosqlite's thread, where a long one does not hold the loop.
        self._writer: Connection | None = None
        # Gets and listings: inline, bounded in time (`sqlite_reads.py`).
        self._reads: StoreReads | None = None
        self._lock = asyncio.Lock()  # one connection: statements of two tasks must not interleave
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper = PeriodicSweep(self.sweep_ttl, (ttl or {}).get("sweep_interval_minutes"), "store items")
        # The background embedder of items saved while the embedder was unavailable.
        self.waiting = SqliteWaitingQueue(self)
        self.backfill: Backfill[Any] | None = Backfill(self.waiting, str(self.path)) if index else None
        self.put_vectors.backfill = self.backfill
        self._embed_waiting = embed_waiting
        self._checked_namespaces: set[tuple[str, ...]] = set()

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
        """Open the connections and create the tables; safe to call again. The vector index loads
        in the background (`vector_cache.py`): this returns in milliseconds whatever the size."""
        if self._conn is not None:
            return
        if self.index_config and str(self.path) == ":memory:":
            # The index reads the candidates' vectors on a connection of its own, which would see
            # another, empty database.
            raise ValueError("a store with an index config needs a database file, not ':memory:'")
        conn = await sqlite_connections.connect(self.path, self._busy_timeout_ms)
        try:
            await tables.create_tables(conn)
            if self.index_config:
                await self._check_dims(conn)
                self._cache = VectorCache(
                    self.path, self.dims, busy_timeout_ms=self._busy_timeout_ms, backend=self._vector_backend
                )
                self.put_vectors.encode = self._cache.index.encode
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        in_memory = str(self.path) == ":memory:"
        self._writer = conn if in_memory else sqlite_connections.connect_writer(self.path, self._busy_timeout_ms)
        self._reads = StoreReads(self.path, lambda: self.conn)
        self._loop = asyncio.get_running_loop()
        if self._cache is not None:
            self._cache.start_loading()
        if self.backfill is not None:
            self.waiting.maybe_waiting = await sqlite_writes.any_waiting(conn)
            if self._embed_waiting:
                self.backfill.start()

    async def aclose(self) -> None:
        await self.stop_ttl_sweeper()
        if self.backfill is not None:
            await self.backfill.stop()
        if self._cache is not None:
            await self._cache.stop()
        if self._writer is not None and self._writer is not self._conn:
            await self._writer.close()
        self._writer = None
        if self._reads is not None:
            self._reads.close()
            self._reads = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def wait_until_indexed(self) -> None:
        """Wait for the vector index's background load (semantic searches wait for it anyway)."""
        if self._cache is not None:
            await self._cache.ready()

    async def _check_dims(self, conn: aiosqlite.Connection) -> None:
        stored = await tables.read_meta(conn, "dims")
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
            await tables.write_meta(conn, "dims", str(self.dims))

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("AsyncSqliteStore is not open; call `await store.setup()` first")
        return self._conn

    @property
    def reads(self) -> StoreReads:
        if self._reads is None:
            raise RuntimeError("AsyncSqliteStore is not open; call `await store.setup()` first")
        return self._reads

    @property
    def writer(self) -> Connection:
        if self._writer is None:
            raise RuntimeError("AsyncSqliteStore is not open; call `await store.setup()` first")
        return self._writer

    @property
    def vector_backend(self) -> str | None:
        """Which implementation serves the vector index (`rust`/`python`), None without an index."""
        return None if self._cache is None else self._cache.index.backend

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
        with observed(ops):
            return await self._abatch(ops)

    async def _abatch(self, ops: list[Op]) -> list[Result]:
        puts: list[PutOp] = []
        reads: list[tuple[int, Op]] = []  # gets, searches and listings, by position in `ops`
        for i, op in enumerate(ops):
            self._validate_namespace(op)
            if isinstance(op, PutOp):
                puts.append(op)
                continue
            if isinstance(op, SearchOp):
                filters.validate(op.filter)
            elif not isinstance(op, (GetOp, ListNamespacesOp)):
                raise ValueError(f"Unknown operation type: {type(op)}")
            reads.append((i, op))
        results: list[Result] = [None] * len(ops)
        queries = await self._embed_queries(op for _, op in reads if isinstance(op, SearchOp)) if reads else {}
        writes = await self.put_vectors.prepare(puts, self._now())
        if queries and self._cache is not None:
            # Outside the lock: a semantic search waits for the index's load, writes must not.
            await self._cache.ready()
        async with self._lock:
            for i, op in reads:
                if isinstance(op, GetOp):
                    results[i] = await self._get(op)
                elif isinstance(op, SearchOp):
                    results[i] = await self._search(op, queries.get(op.query or ""))
                elif isinstance(op, ListNamespacesOp):
                    results[i] = await self._list_namespaces(op)
            if writes:
                waiting = self.waiting.before_write(writes)
                self._follow(await sqlite_writes.write_items(self.writer, writes, self._now(), clear_waiting=waiting))
        self.waiting.after_write(writes)
        return results

    def _validate_namespace(self, op: Op) -> None:
        """LangGraph's check of the op's namespace labels, once per namespace for puts and gets (a
        fill's puts checked every label of every item, ~0.5 us an item)."""
        namespace = op.namespace if isinstance(op, (PutOp, GetOp)) else None
        try:
            if namespace is not None and namespace in self._checked_namespaces:
                return
        except TypeError:  # an unhashable label: the check below says what is wrong with it
            namespace = None
        validate_op_namespace(op)
        if namespace is not None:
            if len(self._checked_namespaces) >= CHECKED_NAMESPACES_KEPT:
                self._checked_namespaces.clear()
            self._checked_namespaces.add(namespace)

    # -- reads ----------------------------------------------------------------------------------

    def _live(self, alias: str) -> tuple[str, list[Any]]:
        omit = bool(self.ttl_config and self.ttl_config.get("omit_expired"))
        return tables.live_condition(alias, omit, self._now().timestamp())

    async def _get(self, op: GetOp) -> Item | None:
        row = await self.reads.get(namespaces.to_text(op.namespace), op.key, self._live("i"))
        if row is None:
            return None
        if op.refresh_ttl and row[6] is not None:
            await self._refresh_ttl([int(row[0])])
        return tables.to_item(row)

    def _where(self, op: SearchOp) -> tuple[str, list[Any]]:
        """SQL condition on `store_items i`: in the namespace prefix, passing the filter, alive."""
        where, params = namespaces.prefix_condition(op.namespace_prefix, "i.prefix")
        conditions, condition_params = self._conditions(op)
        return where + conditions, [*params, *condition_params]

    def _conditions(self, op: SearchOp) -> tuple[str, list[Any]]:
        """The conditions of `_where` beside the namespace's (each as ` AND ...`): filter, expiry."""
        where, params = filters.sql_prefilter(op.filter, "i.value")
        filter_json = filters.encode(op.filter)
        if filter_json is not None:
            where += f" AND {filters.FILTER_FUNCTION}(i.value, ?)"
            params.append(filter_json)
        live, live_params = self._live("i")
        return where + live, [*params, *live_params]

    async def _search(self, op: SearchOp, query_vector: list[float] | None) -> list[SearchItem]:
        if query_vector is None:
            # A listing reads rows until its page is full: the byte search first (filters.py).
            text, text_params = filters.sql_text_prefilter(op.filter, "i.value")
            conditions, params = self._conditions(op)
            where, params = text + conditions, [*text_params, *params]
            listing = tables.Listing(op.namespace_prefix, where, params, op.limit, op.offset, bool(where))
            found: list[ScoredRow] = [(row, None) for row in await self.reads.listing(listing)]
        else:
            where, params = self._where(op)
            found = await self._semantic_search(op, where, params, query_vector)
        if op.refresh_ttl:
            expiring = [int(row[0]) for row, _ in found if row[6] is not None]
            if expiring:
                await self._refresh_ttl(expiring)
        return [tables.to_search_item(row, score) for row, score in found]

    async def _semantic_search(
        self, op: SearchOp, where: str, params: list[Any], query_vector: list[float]
    ) -> list[ScoredRow]:
        k = op.offset + op.limit
        cache = self._cache
        assert cache is not None  # queries are embedded only with an index
        live = bool(self._live("i")[0])
        if not op.filter and not live:
            ranked, rows_by_id = await cache.search(query_vector, k, op.namespace_prefix)
        else:
            # The items passing the filter by the value index, else the index's best rows first with
            # SQL checking the filter on them only (see `rank_filtered`). Expiry is SQL's alone.
            value_filter = None if live else op.filter
            ranked, rows_by_id = await cache.rank_filtered(
                self.conn, where, params, query_vector, k, op.namespace_prefix, value_filter
            )
        found: list[ScoredRow] = [(rows_by_id[item_id], score) for item_id, score in ranked[op.offset :]]
        if len(ranked) < op.offset + op.limit:
            # Scored items ran out: the page continues with the candidates that have no vectors.
            skip = max(0, op.offset - len(ranked))
            rows = await tables.unscored_items(
                self.conn, where, params, vec.blob_size(self.dims), op.limit - len(found), skip
            )
            found += [(row, None) for row in rows]
        return found

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found = await tables.namespaces_under(self.conn, namespaces.literal_prefix(op), self._live("i"))
        return namespaces.list_namespaces(op, [namespaces.from_text(text) for text in found])

    async def _embed_queries(self, ops: Iterable[SearchOp]) -> dict[str, list[float]]:
        if self.embeddings is None:
            return {}
        texts = list({op.query for op in ops if op.query})
        if not texts:
            return {}
        # An embedder that is down: the searches are answered as listings (`_search`), unscored.
        if self.backfill is not None and self.backfill.down:
            return {}
        try:
            if len(texts) == 1:  # the usual case: no task for `gather` to wrap it in
                embedded = [await self.embeddings.aembed_query(texts[0])]
            else:
                embedded = await asyncio.gather(*(self.embeddings.aembed_query(text) for text in texts))
        except EmbeddingUnavailableError as exc:
            if self.backfill is None:
                raise
            self.backfill.went_down(exc)
            return {}
        vec.check_embeddings(embedded, self.dims, "the embedding function")
        return dict(zip(texts, embedded, strict=True))

    # -- writes ---------------------------------------------------------------------------------

    async def acount_waiting(self, namespace_prefix: Sequence[str] = ()) -> int:
        """How many items under the prefix are saved but wait for their vectors (not ranked yet)."""
        if self.backfill is None or not self.waiting.maybe_waiting:
            return 0
        async with self._lock:
            return await sqlite_writes.count_waiting(self.conn, namespace_prefix)

    async def _refresh_ttl(self, ids: Sequence[int]) -> None:
        await sqlite_writes.refresh_ttl(self.writer, ids, self._now().timestamp())

    async def areindex(self) -> int:
        """Embed every item again (after a model or dims change), honouring each put's own `index`."""
        if self.embeddings is None:
            raise ValueError("the store has no index config; nothing to re-index")
        async with self._lock:
            rows = await tables.items_to_reindex(self.conn)
        puts = [
            PutOp(
                namespaces.from_text(r[0]),
                r[1],
                msgspec.json.decode(r[2]),
                None if r[3] is None else msgspec.json.decode(r[3]),
            )
            for r in rows
        ]
        prepared = await self.put_vectors.prepare(puts, self._now(), may_wait=False)
        async with self._lock:
            self._follow(await sqlite_writes.write_items(self.writer, prepared, self._now(), vectors_only=True))
            await tables.write_meta(self.writer, "dims", str(self.dims))
        return len(prepared)

    # -- TTL ------------------------------------------------------------------------------------

    async def sweep_ttl(self) -> int:
        """Delete expired items and their vectors; returns how many items went."""
        async with self._lock:
            expired = await sqlite_writes.delete_expired(self.writer, self._now().timestamp())
        if self._cache is not None:
            self._cache.drop(expired)
        return len(expired)

    def _follow(self, written: Written) -> None:
        """Bring the in-memory vector index up to date with a committed batch."""
        if self._cache is not None:
            self._cache.follow(written)

    async def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> asyncio.Task[None]:
        """Start deleting expired items every `sweep_interval_minutes` (default: the TTL config's, else 5)."""
        return self._sweeper.start(sweep_interval_minutes)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (LangGraph API)
        """Stop the sweeper; True when it is no longer running."""
        return await self._sweeper.stop(timeout)
