"""A semantic search with a value filter (`VectorCache.rank_filtered`) checks the filter on the
index's candidates best bound first and stops once the bounds prove the answer: every result must
still be the brute force over the items passing the filter, on both vector cores, whether the
passing items rank high (stopping early), low (checking every candidate) or nowhere (deepening, then
SQL's list), with the value index out of the way. Only the SQLite store has an in-memory index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langgraph.store.base import PutOp

from aegra.store import sqlite_tables
from aegra.store.sqlite_store import AsyncSqliteStore
from aegra.store.vector_cache import VectorCache
from aegra.vec._backend import available
from tests.support.vector_memory import brute_force_keys

DIMS = 16
ITEMS = 4000  # past 8 x the first depth (320 for k = 10): the bounded path runs before SQL's list
RNG = np.random.default_rng(5)
CENTERS = RNG.standard_normal((8, DIMS)).astype(np.float32)
TABLE = (CENTERS[np.arange(ITEMS) % 8] + 0.3 * RNG.standard_normal((ITEMS, DIMS))).astype(np.float32)
QUERIES = (CENTERS[[0, 3, 5]] + 0.2 * RNG.standard_normal((3, DIMS))).astype(np.float32)


def embed(texts: list[str]) -> list[list[float]]:
    return [(QUERIES[int(t[1:])] if t.startswith("q") else TABLE[int(t[1:])]).tolist() for t in texts]


def value(i: int) -> dict[str, object]:
    # kind: 10% of the items, spread over the clusters; rare: 0.5%, in cluster 1 only.
    return {"text": f"v{i}", "kind": f"k{i // 8 % 10}", "rare": i % 8 == 1 and i % 200 < 8}


FILTERS = [{"kind": "k3"}, {"rare": True}, {"kind": "missing"}]


def brute_force(query: np.ndarray, filter_: dict[str, object], k: int) -> list[tuple[str, float]]:
    ids = np.array([i for i in range(ITEMS) if all(value(i)[key] == want for key, want in filter_.items())])
    return brute_force_keys(query, k, ids, TABLE)


@pytest.mark.parametrize("backend", available())
async def test_filtered_searches_are_the_brute_force_and_stop_early(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[int] = []
    passing_ids = sqlite_tables.passing_ids

    async def counted(conn, where, params, ids):  # type: ignore[no-untyped-def]
        checked.append(len(ids))
        return await passing_ids(conn, where, params, ids)

    monkeypatch.setattr(sqlite_tables, "passing_ids", counted)
    # The path for filters the value index does not answer (its own tests: test_store_value_index.py).
    monkeypatch.setattr(VectorCache, "filtered_ids", lambda self, filter_: None)
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index, vector_backend=backend) as store:
        await store.abatch([PutOp(("s",), f"k{i}", value(i)) for i in range(ITEMS)])
        await store.wait_until_indexed()
        stopped_early = False
        for q in range(len(QUERIES)):
            for filter_ in FILTERS:
                for k in (1, 10):
                    checked.clear()
                    found = await store.asearch(("s",), query=f"q{q}", filter=filter_, limit=k)
                    got = [(item.key, item.score) for item in found]
                    assert got == brute_force(QUERIES[q], filter_, k), (q, filter_, k)
                    cache = store._cache
                    assert cache is not None
                    survivors = len(cache.index.candidates(QUERIES[q], max(32 * k, 256), ("s",))[0])
                    stopped_early |= filter_ == FILTERS[0] and 0 < sum(checked) < survivors
        # The Rust core bounds each candidate: a common filter is settled on the best few.
        assert stopped_early == (backend == "rust")
