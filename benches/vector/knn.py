"""KNN benchmark: the Rust index, its numpy twin, plain numpy and sqlite-vec, in one process.

    python benches/vector/knn.py                  # 100k x 384
    python benches/vector/knn.py --rows 1000000   # ~1.5 GB of vectors
    python benches/vector/knn.py --skip-sqlite    # without the (slow to fill) sqlite-vec tables
    python benches/vector/knn.py --cpu-time       # thread CPU time instead of wall time
    python benches/vector/knn.py --cold           # caches evicted (untimed) before each call

Prints p50/p99 per query (k=10, one thread) unfiltered, with a namespace prefix matching 10% of
rows, and with a 10% candidate-id list (a value filter's result), beside the memory-bandwidth floor:
one streaming read of the same float32 bytes, measured in this run. The index keeps int8 codes and
scans them (a quarter of the bytes, so it can beat the float32 floor), then scores the rows it
could not rule out from their float32 vectors (here a matrix in memory, in the store its file):
exact, see `index/first_pass.rs`. The brute force (`exact_top_k` over every vector) is shown too.
Rows are spread over 1000 namespaces (10 tenants x 100 users), the prefix filter is one tenant.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # repo root: `benches.vector`, `aegra`
from benches.vector.timing import (
    Timing,
    clock_name,
    current_rss_mb,
    evict_caches_between_calls,
    measure,
    measure_interleaved,
    one_thread,
    use_cpu_time,
)

one_thread()
import numpy as np  # noqa: E402

from aegra import vec  # noqa: E402
from aegra.vec._backend import native  # noqa: E402
from tests.support.vector_memory import MemoryIndex  # noqa: E402

K = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-python", action="store_true", help="skip the numpy twin index")
    parser.add_argument("--cold", action="store_true", help="evict the caches before each timed call")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time with the thread's CPU time (a shared, busy machine)"
    )
    return parser.parse_args()


def make_data(rows: int, dims: int) -> tuple[np.ndarray, list[tuple[str, ...]], np.ndarray]:
    rng = np.random.default_rng(42)
    vectors = rng.standard_normal((rows, dims), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tenants = np.arange(rows) % 10
    namespaces = [("tenant", str(t), "user", str(i % 1000)) for i, t in enumerate(tenants.tolist())]
    return vectors, namespaces, tenants


FLOOR = "memory-bandwidth floor: one read of all bytes"
NUMPY = "numpy matrix @ q + argpartition, unfiltered"
EXACT = "brute force: exact_top_k over every vector (f32)"


def floor_call(vectors: np.ndarray) -> Callable[[int], object]:
    """One streaming read of all the vectors' bytes: no scan of them can be faster."""
    if native is not None:
        return lambda _: native._read_all(vectors)  # AVX2 sum, no GIL games
    flat = vectors.reshape(-1).view(np.int64)
    return lambda _: flat.sum()


def exact_scan(vectors: np.ndarray, query: np.ndarray, ids: np.ndarray | None = None) -> object:
    """Every (selected) vector scored with the canonical f32 kernel: the answer by definition."""
    if ids is None:
        return vec.exact_top_k(query, K, np.arange(len(vectors)), vectors, "cosine")
    return vec.exact_top_k(query, K, ids, vectors[ids], "cosine")


def first_pass_stats(index: MemoryIndex, query: np.ndarray, prefix: tuple = (), ids: object = None) -> str:
    _, stats = index.index.candidates(query, K, prefix, ids)  # type: ignore[arg-type]
    return f"selected {stats['selected']:.0f}, not ruled out {stats['survivors']:.0f}"


def numpy_top_k(matrix: np.ndarray, query: np.ndarray) -> list[int]:
    scores = matrix @ query
    best = np.argpartition(-scores, K)[:K]
    return best[np.argsort(-scores[best])].tolist()


class MatrixIndex(MemoryIndex):
    """The index beside the benchmark's matrix: the survivors' vectors are rows of it."""

    def __init__(self, backend: str, vectors: np.ndarray) -> None:
        super().__init__(vectors.shape[1], backend=backend)
        self.matrix = vectors

    def vectors_of(self, row_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return row_ids, self.matrix[row_ids]


def build_index(backend: str, vectors: np.ndarray, namespaces: list) -> tuple[MatrixIndex, float, float]:
    before = current_rss_mb()
    start = time.perf_counter()
    index = MatrixIndex(backend, vectors)
    index.index.upsert_many(np.arange(len(vectors)), namespaces, vectors)
    return index, time.perf_counter() - start, current_rss_mb() - before


def sqlite_tables(vectors: np.ndarray, tenants: np.ndarray) -> sqlite3.Connection:
    from aegra.store.sqlite_vec_loader import ensure_sqlite_vec

    status = ensure_sqlite_vec()
    if status.mode != "auto_extension":
        raise SystemExit(f"sqlite-vec is not loadable here: {status.detail} (use --skip-sqlite)")
    conn = sqlite3.connect(Path(tempfile.mkdtemp()) / "bench.db")
    dims = vectors.shape[1]
    conn.execute(f"CREATE VIRTUAL TABLE plain USING vec0(embedding float[{dims}] distance_metric=cosine)")
    conn.execute(
        f"CREATE VIRTUAL TABLE parted USING vec0(tenant text partition key, "
        f"embedding float[{dims}] distance_metric=cosine)"
    )
    conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, tenant TEXT, embedding BLOB)")
    blobs = vec.pack_vectors(vectors, dims, normalize=False)
    ids = range(1, len(vectors) + 1)
    tenant_labels = [str(t) for t in tenants.tolist()]
    start = time.perf_counter()
    conn.executemany("INSERT INTO plain(rowid, embedding) VALUES (?, ?)", zip(ids, blobs, strict=True))
    # Inserted tenant by tenant: rows alternating partitions insert ~10x slower (measured in issue 6).
    order = np.argsort(tenants, kind="stable").tolist()
    conn.executemany(
        "INSERT INTO parted(rowid, tenant, embedding) VALUES (?, ?, ?)",
        ((i + 1, tenant_labels[i], blobs[i]) for i in order),
    )
    conn.executemany("INSERT INTO blobs VALUES (?, ?, ?)", zip(ids, tenant_labels, blobs, strict=True))
    conn.commit()
    print(f"sqlite-vec {status.vec_version}: filled 3 tables in {time.perf_counter() - start:.1f} s")
    return conn


def main() -> None:
    args = parse_args()
    if args.cpu_time:
        use_cpu_time()
    if args.cold:
        evict_caches_between_calls()
    vectors, namespaces, tenants = make_data(args.rows, args.dims)
    queries = np.random.default_rng(1).standard_normal((args.queries, args.dims), dtype=np.float32)
    mb = vectors.nbytes / 2**20
    print(
        f"{args.rows} x {args.dims} float32 = {mb:.0f} MB, k={K}, one thread, {clock_name()}"
        f"{', cold caches' if args.cold else ''}, {vec.build_info()}"
    )

    backends = [
        b for b in (["rust"] if native is not None else []) + ["python"] if not (args.skip_python and b == "python")
    ]
    indexes = {}
    for backend in backends:
        index, seconds, rss = build_index(backend, vectors, namespaces)
        indexes[backend] = index
        per_100k = index.memory_bytes() / 2**20 * 100_000 / args.rows
        print(
            f"{backend:>6} index: loaded in {seconds:.2f} s, {per_100k:.1f} MB per 100k vectors "
            f"(memory_bytes), RSS +{rss:.0f} MB"
        )

    q = lambda i: queries[i % len(queries)]  # noqa: E731
    slow_runs = max(10, args.queries // 5)

    # Exactness first: every implementation returns numpy's float64 top-k.
    for i in range(5):
        exact = np.argsort(-(vectors.astype(np.float64) @ queries[i].astype(np.float64)))[:K].tolist()
        for backend, index in indexes.items():
            assert [r for r, _ in index.search(queries[i], K)] == exact, backend
    if len(indexes) == 2:
        assert indexes["rust"].search(queries[0], K) == indexes["python"].search(queries[0], K)
    print("recall@10 = 1.0 for every index on 5 queries; rust and python results identical")

    # Unfiltered contenders run in turns (see `measure_interleaved`), beside the floor.
    contenders: dict[str, Callable[[int], object]] = {FLOOR: floor_call(vectors)}
    for backend, index in indexes.items():
        contenders[f"{backend} index, unfiltered"] = lambda i, x=index: x.search(q(i), K)
    contenders[EXACT] = lambda i: exact_scan(vectors, q(i))
    contenders[NUMPY] = lambda i: numpy_top_k(vectors, q(i))
    results = measure_interleaved(contenders, args.queries)
    floor = results[0]
    print()
    print("\n".join(t.row(floor.p50_ms) for t in results))

    tenant_mask = tenants == 3
    selected = np.flatnonzero(tenant_mask)
    prefix = ("tenant", "3")
    candidates = np.sort(np.random.default_rng(3).choice(args.rows, args.rows // 10, replace=False))
    filtered: list[Timing] = []
    for backend, index in indexes.items():
        runs = args.queries if backend == "rust" else slow_runs
        filtered.append(
            measure(f"{backend} index, prefix {prefix} (10%)", lambda i, x=index: x.search(q(i), K, prefix), runs)
        )
        filtered.append(
            measure(
                f"{backend} index, 10% candidate ids",
                lambda i, x=index: x.search(q(i), K, candidate_ids=candidates),
                runs,
            )
        )
    filtered.append(
        measure("brute force, 10% candidate ids", lambda i: exact_scan(vectors, q(i), candidates), args.queries)
    )
    filtered.append(
        measure(
            "numpy gather of 10% rows + @ + argpartition", lambda i: numpy_top_k(vectors[selected], q(i)), args.queries
        )
    )
    filtered.append(
        measure(
            "numpy over a pre-filtered 10% matrix (no gather)",
            lambda i, m=vectors[selected]: numpy_top_k(m, q(i)),
            args.queries,
        )
    )
    print()
    print("\n".join(t.row() for t in filtered))
    if "rust" in indexes:
        rust_index = indexes["rust"]
        print()
        print(f"rust, unfiltered, query 0: {first_pass_stats(rust_index, queries[0])}")
        print(f"rust, prefix 10%, query 0: {first_pass_stats(rust_index, queries[0], prefix)}")
        print(f"rust, 10% ids,    query 0: {first_pass_stats(rust_index, queries[0], (), candidates)}")

    if not args.skip_sqlite:
        conn = sqlite_tables(vectors, tenants)
        blob = lambda i: vec.pack_vector(q(i), args.dims, normalize=False)  # noqa: E731
        knn = "SELECT rowid, distance FROM plain WHERE embedding MATCH ? AND k = ?"
        parted = "SELECT rowid, distance FROM parted WHERE embedding MATCH ? AND k = ? AND tenant = ?"
        brute = "SELECT id FROM blobs ORDER BY vec_distance_cosine(embedding, ?) LIMIT ?"
        brute_tenant = "SELECT id FROM blobs WHERE tenant = ? ORDER BY vec_distance_cosine(embedding, ?) LIMIT ?"
        sql = [
            measure("sqlite-vec vec0 KNN, unfiltered", lambda i: conn.execute(knn, (blob(i), K)).fetchall(), slow_runs),
            measure(
                "sqlite-vec vec0 KNN, partition key = tenant (10%)",
                lambda i: conn.execute(parted, (blob(i), K, "3")).fetchall(),
                slow_runs,
            ),
            measure(
                "sqlite-vec vec_distance_cosine over BLOBs", lambda i: conn.execute(brute, (blob(i), K)).fetchall(), 10
            ),
            measure(
                "sqlite-vec vec_distance_cosine, WHERE tenant (10%)",
                lambda i: conn.execute(brute_tenant, ("3", blob(i), K)).fetchall(),
                slow_runs,
            ),
        ]
        print()
        print("\n".join(t.row() for t in sql))
        got = [r[0] - 1 for r in conn.execute(knn, (blob(0), K)).fetchall()]
        exact = np.argsort(-(vectors @ queries[0]))[:K].tolist()
        print(f"vec0 recall@10 on query 0: {len(set(got) & set(exact)) / K:.2f}")
        results += sql
        filtered += sql

    by_name = {t.name: t for t in results + filtered}
    if "rust" in indexes:
        rust = by_name["rust index, unfiltered"].p50_ms
        print()
        print(f"rust unfiltered / floor      = {rust / floor.p50_ms:.2f}  (target <= 1.5)")
        exact = by_name[EXACT].p50_ms
        print(f"brute force (f32) / floor    = {exact / floor.p50_ms:.2f}")
        numpy_ms = by_name[NUMPY].p50_ms
        print(f"numpy / rust, unfiltered     = {numpy_ms / rust:.2f}  (target >= 1.5)")
        vec0 = by_name.get("sqlite-vec vec0 KNN, unfiltered")
        if vec0 is not None:
            print(f"vec0 / rust, unfiltered      = {vec0.p50_ms / rust:.2f}  (target >= 6)")
        rust_prefix = by_name[f"rust index, prefix {prefix} (10%)"].p50_ms
        print(f"rust prefix 10% p50          = {rust_prefix:.2f} ms (target <= 2 ms)")


if __name__ == "__main__":
    main()
