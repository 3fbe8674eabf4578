"""Micro benchmark of AsyncSqliteStore on a temp file: puts, gets, filter and semantic searches.

    python benches/store_bench.py --items 5000 --dims 384

The embedder is a cheap deterministic one (seeded random vectors per word), so the numbers are
the store's cost: SQL, JSON, vector packing and scoring - not a model's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from aegra.store.sqlite_store import AsyncSqliteStore

WORDS = [f"w{i}" for i in range(2000)]


def make_embedder(dims: int) -> Callable[[list[str]], list[list[float]]]:
    cache: dict[str, np.ndarray] = {}

    def word(w: str) -> np.ndarray:
        if w not in cache:
            seed = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            cache[w] = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
        return cache[w]

    def embed(texts: list[str]) -> list[list[float]]:
        return [np.sum([word(w) for w in t.split()], axis=0).tolist() for t in texts]

    return embed


async def timed(label: str, count: int, run: Callable[[], Awaitable[object]]) -> None:
    start = time.perf_counter()
    await run()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {count / elapsed:>10.1f} /s   ({elapsed * 1000 / count:.3f} ms each)")


async def bench(items: int, dims: int, searches: int, scorer: str) -> None:
    rng = random.Random(1)
    docs = [
        (("bench", f"u{i % 20}"), f"k{i}", {"text": " ".join(rng.sample(WORDS, 8)), "n": i % 100}) for i in range(items)
    ]
    queries = [" ".join(rng.sample(WORDS, 3)) for _ in range(searches)]
    with tempfile.TemporaryDirectory() as folder:
        index = {"dims": dims, "embed": make_embedder(dims), "fields": ["text"]}
        path = Path(folder) / "bench.db"
        async with AsyncSqliteStore.from_path(path, index=index, vector_scoring=scorer) as store:  # type: ignore[arg-type]
            print(f"items={items} dims={dims} scorer={store.scorer}")
            single = docs[: min(500, items)]

            async def put_single() -> None:
                for ns, key, value in single:
                    await store.aput(ns, key, value)

            async def put_batched() -> None:
                from langgraph.store.base import PutOp

                for start in range(0, items, 100):
                    await store.abatch([PutOp(ns, key, value) for ns, key, value in docs[start : start + 100]])

            async def gets() -> None:
                for ns, key, _ in single:
                    await store.aget(ns, key)

            async def filter_searches() -> None:
                for i in range(searches):
                    await store.asearch(("bench",), filter={"n": {"$gte": i % 90}}, limit=10)

            async def semantic(prefix: tuple[str, ...]) -> None:
                for q in queries:
                    await store.asearch(prefix, query=q, limit=10)

            async def semantic_filtered() -> None:
                for q in queries:
                    await store.asearch(("bench",), query=q, filter={"n": {"$lt": 10}}, limit=10)

            await timed("put (one per call)", len(single), put_single)
            await timed("put (batches of 100)", items, put_batched)
            await timed("get", len(single), gets)
            await timed("search, filter only", searches, filter_searches)
            await timed(f"search, query, all {items} items", searches, lambda: semantic(("bench",)))
            await timed("search, query, one namespace (1/20)", searches, lambda: semantic(("bench", "u3")))
            await timed("search, query + filter (1/10 pass)", searches, semantic_filtered)
            print(f"file size: {path.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--scorer", choices=["auto", "index", "sqlite-vec", "numpy"], default="auto")
    args = parser.parse_args()
    asyncio.run(bench(args.items, args.dims, args.searches, args.scorer))


if __name__ == "__main__":
    main()
