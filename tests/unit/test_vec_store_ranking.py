"""The store's filtered semantic search on the vector index: best-scored items first, the filter
checked in SQL on those only (`VectorCache.rank_filtered`), must rank exactly as SQL listing every
candidate did (`VectorCache.rank`), whatever the filter's pass rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from langgraph.store.base import PutOp, SearchOp

from aegra.store.sqlite_store import AsyncSqliteStore

DIMS = 8
ITEMS = 2400


def embed(texts: list[str]) -> list[list[float]]:
    """Few distinct vectors (ties are common), chosen by the text's number."""
    table = np.random.default_rng(3).normal(size=(40, DIMS)).round(1)
    return [table[int(text.split()[-1]) % 40].tolist() for text in texts]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


FILTERS = [
    None,
    {"n": 3},  # 10%
    {"kind": "kind7"},  # 10%, string equality (SQL prefilter)
    {"n": {"$lt": 9}},  # 90%
    {"rare": True},  # 0.2%: hands over to the candidate list
    {"n": 3, "rare": True},  # nothing passes
]


@pytest.mark.parametrize("omit_expired", [False, True])
async def test_rank_filtered_ranks_exactly_as_the_candidate_list(tmp_path: Path, omit_expired: bool) -> None:
    clock = Clock()
    ttl = {"default_ttl": None, "omit_expired": True} if omit_expired else None
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index, ttl=ttl, clock=clock) as store:  # type: ignore[arg-type]
        puts = [
            PutOp(
                ("t", str(i % 3), "u", str(i % 7)),
                f"k{i}",
                {"text": f"item {i * 7919 % 997}", "n": i % 10, "kind": f"kind{i % 10}", "rare": i % 500 == 0},
                ttl=1.0 if omit_expired and i % 4 == 0 else None,
            )
            for i in range(ITEMS)
        ]
        await store.abatch(puts)
        await store.aput(("t", "0"), "no-vector", {"n": 3, "kind": "kind7"}, index=False)
        clock.now += timedelta(minutes=2)  # a quarter of the items expire when omit_expired
        cache = store._cache
        await store.wait_until_indexed()
        assert cache is not None and len(cache.index) == ITEMS
        query = embed(["q 5"])[0]
        for prefix in [(), ("t",), ("t", "1"), ("t", "2", "u", "3")]:
            for filter_ in FILTERS:
                for limit, offset in [(1, 0), (10, 0), (10, 25), (300, 0)]:
                    op = SearchOp(prefix, query="q", filter=filter_, limit=limit, offset=offset)
                    where, params = store._where(op)
                    k = limit + offset
                    expected, _ = await cache.rank(store.conn, where, params, query, k)
                    found, _ = await cache.rank_filtered(store.conn, where, params, query, k, prefix)
                    assert found == expected, (prefix, filter_, k)
        # End to end: scored items, then the items without vectors, paged.
        page = await store.asearch(("t", "0"), query="q 5", filter={"n": 3}, limit=100)
        assert [item.key for item in page][-1] == "no-vector" and page[-1].score is None
        scores = [item.score for item in page[:-1]]
        assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
