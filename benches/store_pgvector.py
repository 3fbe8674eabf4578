"""pgvector beside Aegra's SQLite store on the same data: search p50 and recall@10, exact and HNSW.

    python benches/store_pgvector.py                    # 100k items x 384 dims
    python benches/store_pgvector.py --items 1000000    # HNSW builds for a long time on 2 cores
    python benches/store_pgvector.py --url postgresql://user@127.0.0.1:5432   # a server of yours

Starts a throwaway PostgreSQL with pgvector (the `pgserver` wheel's, as the tests do) unless given
`--url`, loads the vectors of `store_scale.py` (clustered unit vectors, 100 tenants) with COPY, and
times, one query at a time, the query LangGraph's PostgresStore issues (`ORDER BY embedding <=> q
LIMIT 10`): without an index (an exact scan), then with an HNSW index (m=16, ef_construction=64,
ef_search 40 and 200), unfiltered and with a 1% tenant filter. Recall@10 is against the brute force
(numpy, every vector). The same queries then run against Aegra's SQLite store on the same vectors
(`AsyncSqliteStore`, filled through `abatch`), whose results are exact by construction.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benches.store_scale import DIMS, PREFIX, TENANTS, K, fill, index_config, vectors
from benches.vector.timing import one_thread

one_thread()
import numpy as np  # noqa: E402


def brute_force(matrix: np.ndarray, query: np.ndarray, ids: np.ndarray) -> set[int]:
    scores = matrix[ids] @ query
    return set(ids[np.argsort(-scores, kind="stable")[:K]].tolist())


def pg_times(url: str, matrix: np.ndarray, queries: np.ndarray) -> list[tuple[str, float, float]]:
    import psycopg

    rows: list[tuple[str, float, float]] = []
    tenant = np.arange(len(matrix)) % TENANTS
    eligible = {"unfiltered": np.arange(len(matrix)), "tenant 1%": np.flatnonzero(tenant == int(PREFIX[1]))}
    truth = {name: [brute_force(matrix, q, ids) for q in queries] for name, ids in eligible.items()}
    with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("DROP TABLE IF EXISTS bench_items")
        conn.execute(f"CREATE TABLE bench_items (id bigint PRIMARY KEY, tenant int, embedding vector({DIMS}))")
        start = time.perf_counter()
        with conn.cursor().copy("COPY bench_items (id, tenant, embedding) FROM STDIN") as copy:
            for i, vector in enumerate(matrix):
                copy.write_row((i, int(tenant[i]), "[" + ",".join(f"{x:.7g}" for x in vector) + "]"))
        print(f"pgvector: {len(matrix)} rows copied in {time.perf_counter() - start:.0f} s")
        conn.execute("ANALYZE bench_items")

        def run(label: str) -> None:
            for name, where in [("unfiltered", ""), ("tenant 1%", f"WHERE tenant = {int(PREFIX[1])}")]:
                times, recall = [], []
                for q, query in enumerate(queries):
                    literal = "[" + ",".join(f"{x:.7g}" for x in query) + "]"
                    sql = f"SELECT id FROM bench_items {where} ORDER BY embedding <=> %s::vector LIMIT {K}"
                    started = time.perf_counter()
                    found = {row[0] for row in conn.execute(sql, (literal,)).fetchall()}
                    times.append((time.perf_counter() - started) * 1000)
                    recall.append(len(found & truth[name][q]) / K)
                rows.append((f"pgvector {label}, {name}", float(np.median(times)), float(np.mean(recall))))

        run("exact scan (no index)")
        start = time.perf_counter()
        conn.execute(
            "CREATE INDEX ON bench_items USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        print(f"pgvector: HNSW built in {time.perf_counter() - start:.0f} s")
        for ef in (40, 200):
            conn.execute(f"SET hnsw.ef_search = {ef}")
            run(f"HNSW ef_search={ef}")
        conn.execute("DROP TABLE bench_items")
    return rows


async def aegra_times(folder: Path, matrix: np.ndarray, queries: np.ndarray) -> list[tuple[str, float, float]]:
    from aegra.store.sqlite_store import AsyncSqliteStore

    await fill(folder / "store.db", matrix, queries)
    tenant = np.arange(len(matrix)) % TENANTS
    eligible = {"unfiltered": np.arange(len(matrix)), "tenant 1%": np.flatnonzero(tenant == int(PREFIX[1]))}
    rows = []
    async with AsyncSqliteStore.from_path(folder / "store.db", index=index_config(matrix, queries)) as store:
        await store.wait_until_indexed()
        for name, prefix in [("unfiltered", ()), ("tenant 1%", PREFIX)]:
            times, recall = [], []
            for q in range(len(queries)):
                started = time.perf_counter()
                found = await store.asearch(prefix, query=f"q {q}", limit=K)
                times.append((time.perf_counter() - started) * 1000)
                keys = {int(item.key[1:]) for item in found}
                recall.append(len(keys & brute_force(matrix, queries[q], eligible[name])) / K)
            rows.append((f"Aegra SQLite store, {name}", float(np.median(times)), float(np.mean(recall))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--url", help="a PostgreSQL server with pgvector (default: a throwaway one)")
    args = parser.parse_args()
    matrix = vectors(args.items)
    queries = vectors(args.queries, seed=2)
    if args.url:
        rows = pg_times(args.url.rstrip("/"), matrix, queries)
    else:
        from tests.support.postgres import pgserver_bin, throwaway_cluster

        pg_bin = pgserver_bin()
        if pg_bin is None:
            raise SystemExit("no pgvector: install the `pgserver` wheel (pip install -e '.[dev]') or pass --url")
        with throwaway_cluster(pg_bin) as cluster:
            rows = pg_times(cluster.url, matrix, queries)
    with tempfile.TemporaryDirectory() as folder:
        rows += asyncio.run(aegra_times(Path(folder), matrix, queries))
    print(f"\n{args.items} items x {DIMS} dims, k={K}, {args.queries} queries one at a time (wall clock)")
    print(f"{'':<52}{'p50 ms':>9}{'recall@10':>11}")
    for name, p50, recall in rows:
        print(f"{name:<52}{p50:>9.2f}{recall:>11.3f}")


if __name__ == "__main__":
    main()
