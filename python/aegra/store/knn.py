"""Filtered nearest-neighbour scoring over stored vectors: the KNN hot path, in one place.

Semantics (those of LangGraph's `InMemoryStore`): an item's score is the highest cosine similarity
between the query and any of its vectors (a zero vector scores 0); items rank by score, highest
first, ties by item id. The candidate items come from a SQL `WITH candidates AS (...)` built by the
store (namespace prefix, filter, expiry); this module only scores and ranks.

Two interchangeable scorers:
- `sqlite-vec`: brute force inside SQLite with `vec_distance_cosine` (exact, no top-k index, so
  filters never make it return too few rows - unlike vec0 KNN with partition keys in 0.1.9);
- `numpy`: reads the float32 blobs and scores them in numpy; used where sqlite-vec cannot be
  loaded, and the reference the sqlite-vec path is tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import aiosqlite
import numpy as np

from aegra.store import vectors

Scorer = Literal["sqlite-vec", "numpy"]


async def rank(
    conn: aiosqlite.Connection,
    candidates_sql: str,
    params: Sequence[Any],
    query: Sequence[float],
    dims: int,
    k: int,
    scorer: Scorer,
) -> list[tuple[int, float]]:
    """The `k` best (item id, score) pairs among candidates that have vectors of size `dims`."""
    if k <= 0:
        return []
    if scorer == "sqlite-vec":
        return await _rank_in_sqlite(conn, candidates_sql, params, query, dims, k)
    return await _rank_in_numpy(conn, candidates_sql, params, query, dims, k)


async def _rank_in_sqlite(
    conn: aiosqlite.Connection,
    candidates_sql: str,
    params: Sequence[Any],
    query: Sequence[float],
    dims: int,
    k: int,
) -> list[tuple[int, float]]:
    # One sequential pass over the vectors, keeping those of candidate items (IN over the
    # materialized candidates), is several times faster than seeking vectors item by item.
    sql = f"""{candidates_sql}
        SELECT item_id, MAX(COALESCE(1.0 - vec_distance_cosine(embedding, ?), 0.0)) AS score
        FROM store_item_vectors
        WHERE length(embedding) = ? AND item_id IN (SELECT id FROM candidates)
        GROUP BY item_id
        ORDER BY score DESC, item_id
        LIMIT ?"""
    async with conn.execute(sql, [*params, vectors.pack(query), vectors.blob_size(dims), k]) as cursor:
        return [(int(row[0]), float(row[1])) for row in await cursor.fetchall()]


async def _rank_in_numpy(
    conn: aiosqlite.Connection,
    candidates_sql: str,
    params: Sequence[Any],
    query: Sequence[float],
    dims: int,
    k: int,
) -> list[tuple[int, float]]:
    sql = f"""{candidates_sql}
        SELECT item_id, embedding FROM store_item_vectors
        WHERE length(embedding) = ? AND item_id IN (SELECT id FROM candidates)"""
    async with conn.execute(sql, [*params, vectors.blob_size(dims)]) as cursor:
        rows = list(await cursor.fetchall())
    if not rows:
        return []
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=vectors.FLOAT32).reshape(len(rows), dims)
    scores = cosine_similarity(np.asarray(query, dtype=np.float32), matrix)
    best: dict[int, float] = {}
    for item_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        if score > best.get(item_id, -np.inf):
            best[item_id] = score
    return sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))[:k]


def cosine_similarity(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cosine of `query` with each row; 0 where either side is the zero vector."""
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    dots = matrix @ query
    out = np.zeros(len(matrix), dtype=np.float64)
    nonzero = norms > 0
    out[nonzero] = dots[nonzero] / norms[nonzero]
    return out
