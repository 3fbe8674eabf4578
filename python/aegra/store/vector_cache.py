"""The KNN path on the vector core: an in-memory `aegra.vec.VectorIndex` mirroring the
`store_item_vectors` table of the `.db` file.

The file is the truth: the cache is loaded from it when the store opens, and every put, delete,
re-index and TTL sweep of this store is applied to it after its transaction commits. One server
process owns a SQLite file, so no other writer can make it stale behind our back. A search asks
SQL only for the ids of the candidate items (namespace prefix, value filter, expiry) and lets the
index score them, exactly, in Rust (or in its numpy twin). A search with only a namespace prefix
(no value filter, no expiry to respect) skips SQL altogether: the index groups rows by namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import numpy as np

from aegra import vec
from aegra.store import namespaces, vectors


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
        async with conn.execute(f"{candidates_sql} SELECT id FROM candidates", list(params)) as cursor:
            ids = np.fromiter((row[0] for row in await cursor.fetchall()), dtype=np.int64)
        if not len(ids):
            return []
        return await self.search(query, k, candidate_ids=ids)

    async def search(
        self, query: Sequence[float], k: int, namespace_prefix: Sequence[str] = (), candidate_ids: Any = None
    ) -> list[tuple[int, float]]:
        """Off the event loop: the Rust scan releases the GIL, so other requests go on meanwhile."""
        vector = np.asarray(query, dtype=np.float32)
        return await asyncio.to_thread(self.index.search, vector, k, namespace_prefix, candidate_ids)
