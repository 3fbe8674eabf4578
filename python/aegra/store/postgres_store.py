"""LangGraph's `AsyncPostgresStore` with search filters that mean what they mean on SQLite.

LangGraph's PostgreSQL store reads every dict in a filter as operators, so a nested-key filter
(`{"prefs": {"theme": "dark"}}`) is an "Unsupported operator" error there, and it compares
`$gt`/`$gte`/`$lt`/`$lte` as text (`"10" < "9"`). Aegra's stores follow `InMemoryStore`
(see `filters.py`): nested keys match inside dict values, and ordering operators compare numbers.
A missing key reads as JSON null, as `dict.get` does there (`{"k": None}` matches items without `k`).

Semantic search (pgvector) is Aegra's own query, with the semantics of the SQLite store:
- exact: every candidate's best vector is scored. LangGraph's query ranks a window of
  `limit * fields * 2 + 1` vectors that ignores `offset` (later pages came back short or empty),
  and PostgreSQL may serve it from the HNSW index, which is approximate and filters after the
  scan: with a namespace prefix or filter, pages came back short (4 of 10 hits, measured). The
  price: a scan of the candidates' vectors per query (~50 ms for 20k x 384 unfiltered, 10 ms
  with a 10% prefix, on a loaded 2-core machine);
- items without vectors (`index=False`, no indexed field) follow the scored ones, unscored, and are
  paged with them (LangGraph's query dropped them).
Puts whose texts cannot be embedded (`EmbeddingUnavailableError`) are saved at once without
vectors and marked in `store_waiting_vectors` (this module's table, beside LangGraph's); each
process's background embedder (`backfill.py`) claims marks for a lease (`FOR UPDATE SKIP LOCKED`,
so processes share the work) and saves the vectors only if the mark is still the one it claimed
(`token`: a put in between replaces it). A claim outliving its lease may be embedded twice, which
is harmless: the second save finds its token gone and writes nothing. A semantic search whose
query cannot be embedded is answered as a listing (unscored).

Everything else (puts, embeddings, gets, namespaces, TTL) is LangGraph's. Remaining differences: an
empty nested condition (`{"prefs": {}}`) matches every item here, and namespaces are listed in text
order of the dotted prefix (`("a-b",)` before `("a", "b")`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from langgraph.store.base import Op, PutOp, Result, SearchItem, SearchOp
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.postgres.base import (
    PLACEHOLDER,
    _decode_ns_bytes,
    _namespace_prefix_condition,
    _namespace_to_text,
    get_distance_operator,
)
from psycopg import AsyncCursor
from psycopg_pool import AsyncConnectionPool

from aegra.store.backfill import PROBE_TEXT, Backfill
from aegra.store.embeddings import EmbeddingUnavailableError
from aegra.store.filters import OPERATORS
from aegra.store.observed import observed
from aegra.telemetry import tracing

_ORDERING = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
# The value at a path as Python's float() reads it: numbers, booleans (1/0) and numeric strings;
# NULL for anything else, so the cast never sees a non-number and never fails the query.
_AS_NUMBER = r"""(SELECT CASE jsonb_typeof(v)
    WHEN 'number' THEN (v #>> '{}')::float8
    WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN 1.0 ELSE 0.0 END
    WHEN 'string' THEN CASE WHEN (v #>> '{}') ~ '^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$'
        THEN (v #>> '{}')::float8 END
    END FROM (SELECT value #> %s AS v) AS at_path)"""


# The value at a path, a missing key reading as JSON null.
_AT = "COALESCE(value #> %s, 'null'::jsonb)"
# Rank every candidate by its best vector (unscored ones follow), then read the values of one page
# only. `{distance}` is pgvector's operator (ascending = nearer), `{score}` LangGraph's similarity
# for it, read from `ranked.distance`.
_SEMANTIC_SQL = """
WITH ranked AS (
    SELECT store.prefix, store.key, store.updated_at, MIN({distance}) AS distance
    FROM store LEFT JOIN store_vectors sv ON sv.prefix = store.prefix AND sv.key = store.key
    WHERE {where}
    GROUP BY store.prefix, store.key, store.updated_at
    ORDER BY distance ASC NULLS LAST, store.updated_at DESC, store.prefix, store.key
    LIMIT %s OFFSET %s
)
SELECT store.prefix, store.key, store.value, store.created_at, store.updated_at, {score} AS score
FROM ranked JOIN store ON store.prefix = ranked.prefix AND store.key = ranked.key
ORDER BY ranked.distance ASC NULLS LAST, ranked.updated_at DESC, ranked.prefix, ranked.key
"""
# As LangGraph does: the found items with a TTL get a fresh expiry.
_REFRESH_TTL_SQL = """
WITH search_results AS ({search}), updated AS (
    UPDATE store s SET expires_at = NOW() + (s.ttl_minutes || ' minutes')::interval
    FROM search_results sr WHERE s.prefix = sr.prefix AND s.key = sr.key AND s.ttl_minutes IS NOT NULL
)
SELECT * FROM search_results sr ORDER BY sr.score DESC NULLS LAST, sr.updated_at DESC, sr.prefix, sr.key
"""


# -- items waiting for their vectors --------------------------------------------------------------

WAITING_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_waiting_vectors (
    prefix text NOT NULL,
    key text NOT NULL,
    index_spec jsonb,                  -- the put's `index` (null: the config's fields)
    token uuid NOT NULL,               -- new at every mark: a save applies to the version it claimed
    marked_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,  -- failed background attempts: the fewest go first
    claimed_until timestamptz,         -- a process embeds it until then
    PRIMARY KEY (prefix, key),
    FOREIGN KEY (prefix, key) REFERENCES store (prefix, key) ON DELETE CASCADE
)
"""
_KEYS = "SELECT * FROM unnest(%s::text[], %s::text[])"
_MARK_WAITING = """
INSERT INTO store_waiting_vectors (prefix, key, index_spec, token)
SELECT p, k, i::jsonb, gen_random_uuid() FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(p, k, i)
ON CONFLICT (prefix, key) DO UPDATE SET index_spec = EXCLUDED.index_spec, token = EXCLUDED.token,
    marked_at = now(), attempts = 0, claimed_until = NULL
"""
_CLEAR_WAITING = f"DELETE FROM store_waiting_vectors WHERE (prefix, key) IN ({_KEYS})"
_DROP_VECTORS = f"DELETE FROM store_vectors WHERE (prefix, key) IN ({_KEYS})"
_CLAIM_WAITING = """
WITH claimed AS (
    SELECT prefix, key FROM store_waiting_vectors
    WHERE claimed_until IS NULL OR claimed_until < now()
    ORDER BY attempts, marked_at LIMIT %s FOR UPDATE SKIP LOCKED
)
UPDATE store_waiting_vectors w SET claimed_until = now() + make_interval(secs => %s)
FROM claimed c JOIN store s ON s.prefix = c.prefix AND s.key = c.key
WHERE w.prefix = c.prefix AND w.key = c.key
RETURNING w.prefix, w.key, w.token, w.index_spec, s.value
"""
_CLAIMS = "SELECT * FROM unnest(%s::text[], %s::text[], %s::uuid[])"
_SAVE_WAITING = f"DELETE FROM store_waiting_vectors WHERE (prefix, key, token) IN ({_CLAIMS}) RETURNING prefix, key"
_RELEASE_WAITING = f"""
UPDATE store_waiting_vectors SET claimed_until = NULL, attempts = attempts + %s
WHERE (prefix, key, token) IN ({_CLAIMS})
"""
_INSERT_VECTOR = "INSERT INTO store_vectors (prefix, key, field_name, embedding) VALUES (%s, %s, %s, %s)"
CLAIM_LEASE_SECONDS = 120.0  # an embedding batch takes seconds; a claim older than this was lost


class PostgresWaitingQueue:
    """`store_waiting_vectors` as the background embedder claims and saves it."""

    def __init__(self, store: AegraPostgresStore) -> None:
        self.store = store

    async def claim(self, limit: int) -> list[dict[str, Any]]:
        async with _pool(self.store).connection() as conn:
            cursor = await conn.execute(_CLAIM_WAITING, (limit, CLAIM_LEASE_SECONDS))
            return list(await cursor.fetchall())

    async def save(self, items: Sequence[dict[str, Any]]) -> int:
        store = self.store
        assert store.embeddings is not None
        puts = [
            (i, PutOp(_decode_ns_bytes(r["prefix"]), r["key"], r["value"], r["index_spec"]))
            for i, r in enumerate(items)
        ]
        # LangGraph's own plan of a put's texts (fields, paths, their names); its item upsert is not run.
        _, request = store._prepare_batch_PUT_queries(puts)
        texts = list(request[1]) if request else []
        vectors = await store.embeddings.aembed_documents([text for *_, text in texts]) if texts else []
        if store.backfill is not None:
            store.backfill.answered()
        async with _pool(store).connection() as conn, conn.transaction():
            cursor = await conn.execute(_SAVE_WAITING, _columns(items, "prefix", "key", "token"))
            current = {(row["prefix"], row["key"]) for row in await cursor.fetchall()}
            if current:
                await conn.execute(_DROP_VECTORS, _columns([{"p": p, "k": k} for p, k in current], "p", "k"))
                rows = [(p, k, name, v) for (p, k, name, _), v in zip(texts, vectors, strict=True) if (p, k) in current]
                if rows:
                    async with conn.cursor() as cur:
                        await cur.executemany(_INSERT_VECTOR, rows)
        return len(current)

    async def release(self, items: Sequence[dict[str, Any]], *, failed: bool) -> None:
        async with _pool(self.store).connection() as conn:
            await conn.execute(_RELEASE_WAITING, (int(failed), *_columns(items, "prefix", "key", "token")))

    async def probe(self) -> None:
        assert self.store.embeddings is not None
        await self.store.embeddings.aembed_documents([PROBE_TEXT])

    async def count(self, prefix: Sequence[str]) -> int:
        condition, params = _namespace_prefix_condition(tuple(prefix)) if prefix else ("TRUE", ())
        # Aliased `store`: the condition names the column `store.prefix`.
        sql = f"SELECT count(*) AS n FROM store_waiting_vectors AS store WHERE {condition}"
        async with _pool(self.store).connection() as conn:
            cursor = await conn.execute(sql, params)
            row = await cursor.fetchone()
        return int(row["n"]) if row else 0


def _columns(rows: Sequence[dict[str, Any]], *names: str) -> tuple[list[Any], ...]:
    return tuple([row[name] for row in rows] for name in names)


class AegraPostgresStore(AsyncPostgresStore):
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        with observed(ops, traced=False):
            return await super().abatch(ops)

    async def asearch(self, namespace_prefix: tuple[str, ...], /, **kwargs: Any) -> list[SearchItem]:
        # The span here, in the caller's task: LangGraph batches the calls in a task of its own.
        semantic = bool(kwargs.get("query"))
        with tracing.span("store.search", **{"aegra.store.searches": 1, "aegra.store.semantic": semantic}):
            return await super().asearch(namespace_prefix, **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = PostgresWaitingQueue(self)
        self.backfill: Backfill[Any] | None = Backfill(self.waiting, "postgres") if self.index_config else None

    async def setup(self) -> None:
        await super().setup()
        if self.index_config:
            async with self._cursor() as cur:
                await cur.execute(WAITING_SCHEMA)

    async def stop_batching(self) -> None:
        """End LangGraph's batching task, which every instance starts: a store made only for its
        `setup()` otherwise leaves it to `__del__`, whose cancel never gets to run (asyncio then
        logs "Task was destroyed but it is pending!")."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def acount_waiting(self, namespace_prefix: Sequence[str] = ()) -> int:
        """How many items under the prefix are saved but wait for their vectors (not ranked yet)."""
        return 0 if self.backfill is None else await self.waiting.count(namespace_prefix)

    async def _batch_put_ops(self, put_ops: Sequence[tuple[int, PutOp]], cur: AsyncCursor[Any]) -> None:
        """LangGraph's puts, with the items whose texts cannot be embedded saved waiting for them."""
        queries, request = self._prepare_batch_PUT_queries(put_ops)
        waiting: dict[tuple[str, str], Any] = {}
        if request:
            sql, texts = request
            try:
                if self.backfill is not None and self.backfill.down:
                    raise EmbeddingUnavailableError("the embedder is down")
                assert self.embeddings is not None
                vectors = await self.embeddings.aembed_documents([text for *_, text in texts])
                queries.append(
                    (sql, [p for (ns, k, name, _), v in zip(texts, vectors, strict=True) for p in (ns, k, name, v)])
                )
            except EmbeddingUnavailableError as exc:
                if self.backfill is None:
                    raise
                self.backfill.went_down(exc)
                waiting = {(ns, k): None for ns, k, _, _ in texts}
        latest = {(_namespace_to_text(op.namespace), op.key): op for _, op in put_ops if op.value is not None}
        for key in waiting:
            index = latest[key].index
            waiting[key] = None if index is None else json.dumps(index)
        others = [key for key in latest if key not in waiting]
        if self.backfill is None:
            for query, params in queries:
                await cur.execute(query, params)
            return
        async with cur.connection.transaction():  # the items and their marks together
            for query, params in queries:
                await cur.execute(query, params)
            if others:
                # An item put again with its vectors (or with none to compute) waits no more.
                await cur.execute(_CLEAR_WAITING, ([p for p, _ in others], [k for _, k in others]))
            if waiting:
                keys = ([p for p, _ in waiting], [k for _, k in waiting])
                await cur.execute(_DROP_VECTORS, keys)
                await cur.execute(_MARK_WAITING, (*keys, list(waiting.values())))
        if waiting:
            self.backfill.wake()

    async def _batch_search_ops(
        self, search_ops: Sequence[tuple[int, SearchOp]], results: list[Result], cur: AsyncCursor[Any]
    ) -> None:
        """LangGraph's searches; when the queries cannot be embedded, listings (unscored)."""
        if self.backfill is not None and any(op.query for _, op in search_ops):
            try:
                if self.backfill.down:
                    raise EmbeddingUnavailableError("the embedder is down")
                return await super()._batch_search_ops(search_ops, results, cur)
            except EmbeddingUnavailableError as exc:
                self.backfill.went_down(exc)
                search_ops = [(i, op._replace(query=None)) for i, op in search_ops]
        await super()._batch_search_ops(search_ops, results, cur)

    def _get_filter_condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        # LangGraph calls this for each entry of a dict-valued filter `{key: {op: value}}`.
        return _condition([key], op, value)

    def _prepare_batch_search_queries(
        self, search_ops: Sequence[tuple[int, SearchOp]]
    ) -> tuple[list[tuple[str, list[Any]]], list[tuple[int, str]]]:
        # Plain values become `$eq` conditions, so that every filter entry goes through `_condition`.
        search_ops = [(i, op._replace(filter=_as_operators(op.filter))) for i, op in search_ops]
        queries, embedding_requests = super()._prepare_batch_search_queries(search_ops)
        for position, _ in embedding_requests:  # the ops with a query, when an index is configured
            queries[position] = self._semantic_query(search_ops[position][1])
        return queries, embedding_requests

    def _semantic_query(self, op: SearchOp) -> tuple[str, list[Any]]:
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if op.namespace_prefix:
            condition, ns_params = _namespace_prefix_condition(op.namespace_prefix)
            where.append(condition)
            params.extend(ns_params)
        for key, conditions in (op.filter or {}).items():
            for name, operand in conditions.items():
                sql, filter_params = self._get_filter_condition(key, name, operand)
                where.append(sql)
                params.extend(filter_params)
        if self._omit_expired:
            where.append("(store.expires_at IS NULL OR store.expires_at > NOW())")
        distance, score = get_distance_operator(self)
        config = cast(dict[str, Any], self.index_config)
        vector_type = config.get("ann_index_config", {}).get("vector_type", "vector")
        if vector_type == "bit" and config.get("distance_type") == "hamming":
            distance = distance % ("%s", config["dims"])
        else:
            distance = distance % ("%s", vector_type)
        sql = _SEMANTIC_SQL.format(
            where=" AND ".join(where), distance=distance, score=score.replace("scored.neg_score", "ranked.distance")
        )
        if op.refresh_ttl:
            sql = _REFRESH_TTL_SQL.format(search=sql)
        # PLACEHOLDER: LangGraph puts the query's vector there once it is embedded.
        return sql, [PLACEHOLDER, *params, op.limit, op.offset]


def _as_operators(filter_: dict[str, Any] | None) -> dict[str, Any] | None:
    if not filter_:
        return filter_
    return {key: value if isinstance(value, dict) else {"$eq": value} for key, value in filter_.items()}


def _condition(path: list[str], op: str, operand: Any) -> tuple[str, list[Any]]:
    """SQL for one entry of a dict condition at `path`: an operator, or else a nested key."""
    if not op.startswith("$"):
        return _match([*path, op], operand)
    if op == "$eq":
        return f"{_AT} = %s::jsonb", [path, json.dumps(operand)]
    if op == "$ne":
        return f"{_AT} <> %s::jsonb", [path, json.dumps(operand)]
    if op not in OPERATORS:
        raise ValueError(f"Unsupported operator: {op}")
    try:
        number = float(operand)
    except (TypeError, ValueError):
        return "FALSE", []  # as InMemoryStore's float() comparison: nothing can match
    return f"{_AS_NUMBER} {_ORDERING[op]} %s", [path, number]


def _match(path: list[str], condition: Any) -> tuple[str, list[Any]]:
    """SQL for `condition` on the value at `path` (a scalar or list: JSON equality)."""
    if not isinstance(condition, dict):
        return f"{_AT} = %s::jsonb", [path, json.dumps(condition)]
    if any(key.startswith("$") for key in condition):
        parts = [_condition(path, op, operand) for op, operand in condition.items()]
    else:
        parts = [_match([*path, key], sub) for key, sub in condition.items()]
        # Like InMemoryStore, a nested condition needs an object there, even an empty condition.
        parts.append(("jsonb_typeof(value #> %s) = 'object'", [path]))
    return " AND ".join(f"({sql})" for sql, _ in parts), [param for _, params in parts for param in params]


# -- export and import (`aegra db export|import`): LangGraph's `store` table ---------------------------


def _pool(store: AsyncPostgresStore) -> AsyncConnectionPool[Any]:
    """The store's psycopg pool (store/factory.py opens it on one)."""
    if not isinstance(store.conn, AsyncConnectionPool):
        raise TypeError("the PostgreSQL store is expected to be opened on a connection pool")
    return store.conn


async def export_rows(store: AsyncPostgresStore) -> list[Any]:
    """Every item with its times and TTL."""
    sql = "SELECT prefix, key, value, created_at, updated_at, expires_at, ttl_minutes FROM store ORDER BY prefix, key"
    async with _pool(store).connection() as conn:
        cursor = await conn.execute(sql)
        return list(await cursor.fetchall())


async def restore_times(store: AsyncPostgresStore, rows: Sequence[tuple[Any, ...]]) -> None:
    """(created_at, updated_at, expires_at, prefix, key): the times of imported items."""
    sql = "UPDATE store SET created_at = %s, updated_at = %s, expires_at = %s WHERE prefix = %s AND key = %s"
    async with _pool(store).connection() as conn, conn.transaction(), conn.cursor() as cursor:
        await cursor.executemany(sql, rows)
