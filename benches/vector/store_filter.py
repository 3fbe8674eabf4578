"""The SQLite store's filtered semantic search: namespace prefix and value filter, end to end.

    python benches/vector/store_filter.py                  # 100k items x 384 dims
    python benches/vector/store_filter.py --items 1000000  # ~1.5 GB of vectors, a few minutes to fill

Fills a store file directly with SQL (items spread over 10 tenants x 100 users, values
`{"n": i // 10 % 10, "kind": f"kind{n}", ...}`), opens `AsyncSqliteStore` on it (the vector index
loads from the file), then times, per query (k=10, p50/p99):
- `asearch(("tenant", "3"), query=...)`: a prefix alone, served by the index's namespace blocks;
- `asearch((), query=..., filter={"n": 3})`: a value filter passing 10% of items: the index ranks,
  SQL checks the filter on the best-ranked items only (`VectorCache.rank_filtered`);
- the same through the candidate list (SQL lists every passing id, the index scores those), the
  path before, and its pieces: the SQL candidate step as one `group_concat` text and as one row
  per id, and the index search on those ids.
The query embedding is a fixed vector, so no model time is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benches.vector.timing import Timing, _timing, one_thread

one_thread()
import numpy as np  # noqa: E402

from aegra import vec  # noqa: E402
from aegra.store import vector_cache, vectors  # noqa: E402
from aegra.store.sqlite_store import AsyncSqliteStore  # noqa: E402

K = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=30)
    return parser.parse_args()


def value(i: int) -> str:
    n = i // 10 % 10  # independent of the tenant (i % 10)
    return json.dumps({"n": n, "kind": f"kind{n}", "text": f"doc {i}"})


def fill(path: Path, items: int, dims: int) -> None:
    rng = np.random.default_rng(42)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    now = "2026-01-01T00:00:00.000000+00:00"
    chunk = 50_000
    for start in range(0, items, chunk):
        ids = range(start + 1, min(items, start + chunk) + 1)
        matrix = rng.standard_normal((len(ids), dims), dtype=np.float32)
        conn.executemany(
            "INSERT INTO store_items (id, prefix, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            ((i, f"tenant.{i % 10}.user.{i % 1000}", f"k{i}", value(i), now, now) for i in ids),
        )
        conn.executemany(
            "INSERT INTO store_item_vectors (item_id, field, embedding) VALUES (?, 'text', ?)",
            zip(ids, vec.pack_vectors(matrix, dims, normalize=False), strict=True),
        )
        conn.commit()
    conn.close()


async def timed(name: str, runs: int, call) -> Timing:  # type: ignore[no-untyped-def]
    await call(0)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - start) * 1000)
    return _timing(name, times)


async def main() -> None:
    args = parse_args()
    queries = np.random.default_rng(1).standard_normal((args.queries, args.dims), dtype=np.float32)
    embed_calls = {"i": 0}

    def embed(texts: list[str]) -> list[list[float]]:
        embed_calls["i"] += 1
        return [queries[embed_calls["i"] % len(queries)].tolist() for _ in texts]

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.db"
        index = {"dims": args.dims, "embed": embed, "fields": ["text"]}
        async with AsyncSqliteStore.from_path(path, index=index):  # creates the tables
            pass
        start = time.perf_counter()
        fill(path, args.items, args.dims)
        print(f"{args.items} items x {args.dims} dims filled in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        async with AsyncSqliteStore.from_path(path, index=index) as store:
            cache = store._cache
            assert cache is not None
            print(
                f"store opened (index loaded) in {time.perf_counter() - start:.1f} s, "
                f"index {cache.index.memory_bytes() / 2**20:.0f} MB, backend {cache.index.backend}"
            )
            where, params = store._where(store_search_op(("tenant", "3"), {"n": 3}))
            candidates = f"WITH candidates AS MATERIALIZED (SELECT id FROM store_items i WHERE {where})"

            async def rows_of_ids(_: int) -> object:
                async with store.conn.execute(f"{candidates} SELECT id FROM candidates", params) as cursor:
                    return np.fromiter((row[0] for row in await cursor.fetchall()), dtype=np.int64)

            async def concat_ids(_: int) -> object:
                return await vector_cache.candidate_ids(store.conn, candidates, params)

            ids = await concat_ids(0)
            assert np.array_equal(np.sort(ids), np.sort(await rows_of_ids(0)))
            results = [
                await timed(
                    "asearch, prefix tenant 3 (10%)",
                    args.queries,
                    lambda i: store.asearch(("tenant", "3"), query="q", limit=K),
                ),
                await timed(
                    "asearch, prefix tenant 3 + filter n=3 (1%)",
                    args.queries,
                    lambda i: store.asearch(("tenant", "3"), query="q", filter={"n": 3}, limit=K),
                ),
                await timed(
                    "asearch, filter n=3 (10%)",
                    args.queries,
                    lambda i: store.asearch((), query="q", filter={"n": 3}, limit=K),
                ),
                await timed(
                    "asearch, filter kind=kind3 (10%, SQL prefilter)",
                    args.queries,
                    lambda i: store.asearch((), query="q", filter={"kind": "kind3"}, limit=K),
                ),
                await timed(
                    "asearch, filter n=3 (10%), candidate list (before)",
                    args.queries,
                    lambda i: candidate_list_search(store, {"n": 3}, queries[i % len(queries)]),
                ),
            ]
            where, params = store._where(store_search_op((), {"n": 3}))
            candidates = f"WITH candidates AS MATERIALIZED (SELECT id FROM store_items i WHERE {where})"
            ids = await concat_ids(0)
            results += [
                await timed(f"  SQL ids of filter n=3 ({len(ids)}), group_concat", args.queries, concat_ids),
                await timed(f"  SQL ids of filter n=3 ({len(ids)}), a row per id", args.queries, rows_of_ids),
                await timed(
                    "  index search over those ids",
                    args.queries,
                    lambda i: cache.search(queries[i % len(queries)], K, candidate_ids=ids),
                ),
            ]
            print("\n".join(t.row() for t in results))
            blob = vectors.blob_size(args.dims)
            print(f"(vectors are {blob} bytes each; {args.items * blob / 2**20:.0f} MB in the file)")


async def candidate_list_search(store: AsyncSqliteStore, filter_: dict, query: np.ndarray) -> object:
    """The value-filter path before `rank_filtered`: SQL lists every candidate id, the index scores them."""
    where, params = store._where(store_search_op((), filter_))
    candidates = f"WITH candidates AS MATERIALIZED (SELECT id FROM store_items i WHERE {where})"
    assert store._cache is not None
    return await store._cache.rank(store.conn, candidates, params, query.tolist(), K)


def store_search_op(prefix: tuple[str, ...], filter_: dict) -> object:
    from langgraph.store.base import SearchOp

    return SearchOp(namespace_prefix=prefix, filter=filter_, limit=K, offset=0, query="q")


if __name__ == "__main__":
    asyncio.run(main())
