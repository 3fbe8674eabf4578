"""The KNN path on the vector core: an in-memory `aegra.vec.VectorIndex` mirroring the
`store_item_vectors` table of the `.db` file.

The file is the truth: the cache is loaded from it when the store opens, and every put, delete,
re-index and TTL sweep of this store is applied to it after its transaction commits. One server
process owns a SQLite file, so no other writer can make it stale behind our back. A search asks
SQL only for the ids of the candidate items (namespace prefix, value filter, expiry) and lets the
index score them, exactly, in Rust (or in its numpy twin); the ids come back as one comma-joined
text (`candidate_ids`), not a row each. A search with only a namespace prefix (no value filter, no
expiry to respect) skips SQL altogether: the index groups rows by namespace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import numpy as np

from aegra import vec
from aegra.store import namespaces, vectors

# `rank_filtered` checks the filter on the index's best DEEPEN_START, or DEEPEN_FACTOR x k, items
# first; it hands over to `rank` past 1/DEEPEN_LIMIT of the index.
DEEPEN_START = 256
DEEPEN_FACTOR = 32
DEEPEN_LIMIT = 8


class VectorCache:
    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.index = vec.VectorIndex(dims, "cosine")

    async def load(self, conn: aiosqlite.Connection) -> int:
        """Fill the index from the file (vectors of another size belong to an old model: skipped)."""
        sql = (
            "SELECT v.item_id, i.prefix, v.embedding FROM store_item_vectors v "
            "JOIN store_items i ON i.id = v.item_id WHERE length(v.embedding) = ? ORDER BY v.item_id"
        )
        async with conn.execute(sql, [vectors.blob_size(self.dims)]) as cursor:
            rows = list(await cursor.fetchall())
        self.index.clear()
        if rows:
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            spaces = [namespaces.from_text(row[1]) for row in rows]
            self.index.upsert_many(ids, spaces, vec.unpack_matrix([row[2] for row in rows], self.dims))
        return len(rows)

    def put(self, item_id: int, namespace: Sequence[str], blobs: Iterable[bytes]) -> None:
        """An item's vectors after a write (none: it is not searchable by similarity any more)."""
        usable = [blob for blob in blobs if len(blob) == vectors.blob_size(self.dims)]
        if usable:
            self.index.upsert(item_id, namespace, vec.unpack_matrix(usable, self.dims))
        else:
            self.index.delete(item_id)

    def drop(self, item_ids: Iterable[int]) -> None:
        for item_id in item_ids:
            self.index.delete(item_id)

    async def rank(
        self, conn: aiosqlite.Connection, candidates_sql: str, params: Sequence[Any], query: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        ids = await candidate_ids(conn, candidates_sql, params)
        if not len(ids):
            return []
        return await self.search(query, k, candidate_ids=ids)

    async def rank_filtered(
        self,
        conn: aiosqlite.Connection,
        where: str,
        candidates_sql: str,
        params: Sequence[Any],
        query: Sequence[float],
        k: int,
        namespace_prefix: Sequence[str],
    ) -> list[tuple[int, float]]:
        """`rank` for a search whose SQL condition `where` (on `store_items i`: namespace prefix,
        value filter, expiry) is costly to run on every item: the filter function is Python, about
        1.5 us an item, 150 ms at 100k items. Instead the index ranks the items under the prefix
        and SQL checks `where` on the best `depth` of them only, `depth` growing (from the pass rate
        seen) until k of them pass. Exact: the index's ranking is a total order (score, then id),
        so the first k passing items of its first `depth` are the first k passing items of all.
        When the filter passes so few items that `depth` would reach an eighth of the index, SQL
        lists the candidates instead (`rank`): the rounds before (each deeper by the pass rate seen,
        so a filter passing nothing hands over after about three) add a little to that case."""
        if k <= 0:
            return []
        limit = len(self.index) // DEEPEN_LIMIT
        depth = max(DEEPEN_FACTOR * k, DEEPEN_START)
        ranked: list[tuple[int, float]] = []
        passing: list[tuple[int, float]] = []
        while depth <= limit:
            checked = len(ranked)
            ranked = await self.search(query, depth, namespace_prefix)
            fresh = ranked[checked:]
            kept = await _passing(conn, where, params, [item_id for item_id, _ in fresh])
            passing += [pair for pair in fresh if pair[0] in kept]
            if len(passing) >= k or len(ranked) < depth:  # enough, or every item under the prefix seen
                return passing[:k]
            # Deeper by the pass rate seen so far (x2 for luck), at least 4x.
            rate = max(len(passing), 1) / len(ranked)
            depth = max(4 * depth, int(2 * k / rate))
        return await self.rank(conn, candidates_sql, params, query, k)

    async def search(
        self, query: Sequence[float], k: int, namespace_prefix: Sequence[str] = (), candidate_ids: Any = None
    ) -> list[tuple[int, float]]:
        """Off the event loop: the Rust scan releases the GIL, so other requests go on meanwhile."""
        vector = np.asarray(query, dtype=np.float32)
        return await asyncio.to_thread(self.index.search, vector, k, namespace_prefix, candidate_ids)


async def _passing(conn: aiosqlite.Connection, where: str, params: Sequence[Any], item_ids: list[int]) -> set[int]:
    """Which of `item_ids` satisfy `where`: looked up by id (CROSS JOIN keeps that join order)."""
    if not item_ids:
        return set()
    sql = f"SELECT i.id FROM json_each(?) j CROSS JOIN store_items i ON i.id = j.value WHERE {where}"
    async with conn.execute(sql, [json.dumps(item_ids), *params]) as cursor:
        return {int(row[0]) for row in await cursor.fetchall()}


async def candidate_ids(conn: aiosqlite.Connection, candidates_sql: str, params: Sequence[Any]) -> np.ndarray:
    """The ids of the `candidates` CTE as an int64 array, in one row of text: SQLite's
    `group_concat` joins them in C and numpy parses them in C, where a row per id paid Python's
    per-row cost (tuple, int, iterator) - about 40 ms of 100 for 100k ids measured at 1M items."""
    async with conn.execute(f"{candidates_sql} SELECT group_concat(id) FROM candidates", list(params)) as cursor:
        row = await cursor.fetchone()
    text = row[0] if row is not None else None
    if not text:
        return np.empty(0, dtype=np.int64)
    # Text mode (`sep`) of fromstring is not deprecated; ids are plain decimal integers.
    return np.fromstring(text, dtype=np.int64, sep=",")
