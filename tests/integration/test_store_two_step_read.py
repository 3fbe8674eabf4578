"""A semantic search reads its candidates' float32 vectors in two steps (`VectorCache._exact`):
the best-bounded 2k first, then only the rest whose bound reaches the k-th best score found. The
results must stay the brute force's on both vector cores, with a prefix, with the value index's
candidates and unfiltered, and the Rust core (which bounds each row) must read fewer vectors than
its first pass names. Only the SQLite store has an in-memory index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langgraph.store.base import PutOp

from aegra.store import sqlite_tables
from aegra.store.sqlite_store import AsyncSqliteStore
from aegra.vec._backend import available
from tests.support.vector_memory import brute_force_keys

DIMS = 24
ITEMS = 3000
RNG = np.random.default_rng(11)
CENTERS = RNG.standard_normal((6, DIMS)).astype(np.float32)
# Tight clusters: many rows score close to the k-th, so the first pass keeps dozens of them.
TABLE = (CENTERS[np.arange(ITEMS) % 6] + 0.08 * RNG.standard_normal((ITEMS, DIMS))).astype(np.float32)
QUERIES = (CENTERS[[0, 2, 4, 4]] + 0.05 * RNG.standard_normal((4, DIMS))).astype(np.float32)
PREFIXES: list[tuple[str, ...]] = [(), ("t", "1")]


def embed(texts: list[str]) -> list[list[float]]:
    return [(QUERIES[int(t[1:])] if t.startswith("q") else TABLE[int(t[1:])]).tolist() for t in texts]


def namespace(i: int) -> tuple[str, ...]:
    return ("t", str(i % 3), "u", str(i % 7))


def brute_force(query: np.ndarray, prefix: tuple[str, ...], filter_: dict[str, str] | None, k: int) -> list:
    def passes(i: int) -> bool:
        return namespace(i)[: len(prefix)] == prefix and (filter_ is None or f"k{i % 4}" == filter_["kind"])

    return brute_force_keys(query, k, np.array([i for i in range(ITEMS) if passes(i)]), TABLE)


@pytest.mark.parametrize("backend", available())
async def test_two_step_reads_rank_as_the_brute_force_and_read_less(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    candidate_vectors = sqlite_tables.candidate_vectors

    def counted(conn, item_ids, dims):  # type: ignore[no-untyped-def]
        read.append(len(item_ids))
        return candidate_vectors(conn, item_ids, dims)

    monkeypatch.setattr(sqlite_tables, "candidate_vectors", counted)
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index, vector_backend=backend) as store:
        ops = [PutOp(namespace(i), f"k{i}", {"text": f"v{i}", "kind": f"k{i % 4}"}) for i in range(ITEMS)]
        await store.abatch(ops)
        await store.wait_until_indexed()
        cache = store._cache
        assert cache is not None
        fewer = 0
        for q in range(len(QUERIES)):
            for prefix in PREFIXES:
                for filter_ in (None, {"kind": "k2"}):
                    for k in (1, 3, 10):
                        read.clear()
                        found = await store.asearch(prefix, query=f"q{q}", filter=filter_, limit=k)
                        got = [(item.key, item.score) for item in found]
                        assert got == brute_force(QUERIES[q], prefix, filter_, k), (q, prefix, filter_, k)
                        named = len(cache.index.candidates(QUERIES[q], k, prefix)[0]) if filter_ is None else None
                        fewer += named is not None and sum(read) < named
        await cache.values_built()
    # The Rust core bounds each row: most searches leave some named rows unread.
    assert (fewer > 4) == (backend == "rust"), fewer
