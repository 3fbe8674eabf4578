"""The SQLite store at scale (default 1,000,000 items x 384 dims): open, memory, search, exactness.

    python benches/store_scale.py                         # 1M items, both vector cores
    python benches/store_scale.py --items 100000 --backend python
    python benches/store_scale.py --keep /tmp/store-1m    # keep (and reuse) the file and vectors

1. Fill: the items go in through `AsyncSqliteStore.abatch` (batches of 2,000, a lookup "embedder"
   handing back precomputed vectors): clustered random unit vectors (100 centers), namespaces
   ("tenant", t, "user", u) with 100 tenants (one is the 1% prefix) and 1,000 users, values
   `{"text", "kind"}` where `kind` = "kind3" is a 10% filter independent of the tenant (but set
   by the user: kind3 <=> user // 100 == 3, so its items are whole namespaces, which a layout of
   the index by namespace would make contiguous; the arena today interleaves namespaces by load
   chunk of 16k items, ~16-slot runs).
2. Open, in a fresh child process per vector core (nothing else in memory): the time `setup()`
   takes (the server's `/ok` waits for it), the time until the index is loaded in the background,
   RSS before opening, after the load and at its peak (`ru_maxrss`), against the bytes of the
   vectors the index keeps in memory (int8 codes: N x dims).
3. Search, in the same child, alternating per query with the floor - one streaming read of the
   N x dims float32 matrix (what an f32 scan cannot beat): p50/p99 unfiltered, with the 1% prefix,
   and with the 10% filter, each top-10 compared with the brute force (every vector scored
   exactly, `aegra.vec.exact_top_k`) on every query.
Times are wall clock and the process's CPU time, all threads (on a shared machine the second leaves out the
waits for a core); the floor is read in the same run, so their ratio is comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root: `benches`, `aegra`
from benches.vector.timing import one_thread

one_thread()
import numpy as np  # noqa: E402

DIMS, K, TENANTS, USERS, BATCH = 384, 10, 100, 1000, 2000
FILTER = {"kind": "kind3"}
PREFIX = ("tenant", "7")


def namespace(i: int) -> tuple[str, ...]:
    return ("tenant", str(i % TENANTS), "user", str(i % USERS))


def value(i: int) -> dict[str, Any]:
    return {"text": f"doc {i}", "kind": f"kind{i // 100 % 10}"}


def vectors(items: int, seed: int = 1) -> np.ndarray:
    """Clustered unit vectors, made a chunk at a time (float32 throughout)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((100, DIMS), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.empty((items, DIMS), dtype=np.float32)
    for start in range(0, items, 100_000):
        n = min(100_000, items - start)
        chunk = centers[rng.integers(0, 100, n)] + rng.standard_normal((n, DIMS), dtype=np.float32) * 0.06
        out[start : start + n] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def index_config(matrix: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    def embed(texts: list[str]) -> list[np.ndarray]:
        return [queries[int(t[2:])] if t.startswith("q ") else matrix[int(t[4:])] for t in texts]

    return {"dims": DIMS, "embed": embed, "fields": ["text"]}


async def fill(path: Path, matrix: np.ndarray, queries: np.ndarray) -> float:
    from langgraph.store.base import PutOp

    from aegra.store.sqlite_store import AsyncSqliteStore

    start = time.perf_counter()
    async with AsyncSqliteStore.from_path(path, index=index_config(matrix, queries)) as store:
        for first in range(0, len(matrix), BATCH):
            ops = [PutOp(namespace(i), f"k{i}", value(i)) for i in range(first, min(first + BATCH, len(matrix)))]
            await store.abatch(ops)
    return time.perf_counter() - start


# -- the child: open, memory, searches ---------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child(folder: Path, backend: str, n_queries: int) -> dict[str, Any]:
    from aegra import vec
    from aegra.store.sqlite_store import AsyncSqliteStore

    vec_module = vec  # imported before the baseline: its cost is the process's, not the store's
    queries = np.load(folder / "queries.npy")
    before, peak_before = rss_mb(), peak_mb()
    matrix_stub = np.empty((0, DIMS), dtype=np.float32)
    store = AsyncSqliteStore(
        folder / "store.db",
        index=index_config(matrix_stub, queries),
        vector_backend=backend,  # type: ignore[arg-type]
    )
    start, cpu = time.perf_counter(), time.process_time()
    await store.setup()
    setup_s = time.perf_counter() - start
    await store.wait_until_indexed()
    loaded_s, loaded_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    after, peak_after = rss_mb(), peak_mb()
    cache = store._cache
    assert cache is not None
    rows, kept = len(cache.index), cache.index.vector_count() * DIMS
    out: dict[str, Any] = {
        "backend": cache.index.backend,
        "setup_s": setup_s,
        "loaded_s": loaded_s,
        "loaded_cpu_s": loaded_cpu_s,
        "rows": rows,
        "code_bytes_mb": kept / 2**20,
        "rss_added_mb": after - before,
        "peak_added_mb": max(peak_after - max(peak_before, before), after - before),
        "index_mb": cache.index.memory_bytes() / 2**20,
    }
    # The filter's field in the value index (built in the background on the first filtered search;
    # a core without it answers the old way): its build time and memory, apart from the searches.
    start, cpu = time.perf_counter(), time.process_time()
    await store.asearch((), query="q 0", filter=FILTER, limit=K)
    values = getattr(cache, "values", None)
    if values is not None:
        await cache.values_built()
        out["value_index"] = {
            "seconds": time.perf_counter() - start,
            "cpu_s": time.process_time() - cpu,
            "mb": values.memory_bytes() / 2**20,
            "rss_added_mb": rss_mb() - before,
            "peak_added_mb": peak_mb() - max(peak_before, before),
        }
    # The floor's matrix, only now (after the memory figures): the f32 vectors of the file the fill
    # wrote, copied into the process's memory. `ascontiguousarray` of the memory map was the map
    # itself: the floor read the page cache, which a VM's reclaim (kdamond here) pages out while
    # it sits idle, and it drifted from 90 to 174 ms between runs of one session.
    matrix = np.array(np.load(folder / "vectors.npy", mmap_mode="r"))
    native = vec_module._backend.native
    floor = native._read_all if native is not None else (lambda m: m.view(np.int64).sum())
    cases = {"unfiltered": ((), None), "prefix 1%": (PREFIX, None), "filter 10%": ((), FILTER)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ["floor", *cases]}
    exact: dict[str, int] = dict.fromkeys(cases, 0)
    tenant = np.array([i % TENANTS == int(PREFIX[1]) for i in range(len(matrix))])
    kind3 = np.array([value(i)["kind"] == FILTER["kind"] for i in range(len(matrix))])
    eligible = {
        "unfiltered": np.arange(len(matrix)),
        "prefix 1%": np.flatnonzero(tenant),
        "filter 10%": np.flatnonzero(kind3),
    }
    for q in range(n_queries):
        for name in ["floor", *cases]:
            wall, cpu = time.perf_counter(), time.process_time()
            if name == "floor":
                floor(matrix)
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
                continue
            prefix, filter_ = cases[name]
            found = await store.asearch(prefix, query=f"q {q}", filter=filter_, limit=K)
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            ids = eligible[name]
            rows = matrix if len(ids) == len(matrix) else matrix[ids]  # no 1.5 GB copy when all are
            expected = vec_module.exact_top_k(queries[q], K, ids, rows, "cosine")
            got = [(int(item.key[1:]), item.score) for item in found]
            exact[name] += got == [(int(i), s) for i, s in expected]
    await store.aclose()
    for name, samples in times.items():
        wall = np.array([s[0] for s in samples]) * 1000
        cpu = np.array([s[1] for s in samples]) * 1000
        out[name] = {
            "p50": float(np.median(wall)),
            "p99": float(np.percentile(wall, 99)),
            "cpu_p50": float(np.median(cpu)),
        }
    out["exact"] = exact
    out["queries"] = n_queries
    return out


def run_child(folder: Path, backend: str, queries: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", str(folder), "--backend", backend, "--queries", str(queries)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"child failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(result: dict[str, Any], items: int) -> None:
    floor = result["floor"]
    print(f"\n{result['backend']} vector core, {result['rows']} rows")
    print(
        f"  setup() returned in {result['setup_s'] * 1000:.0f} ms; index loaded in {result['loaded_s']:.2f} s "
        f"({result['loaded_cpu_s']:.2f} s of CPU)"
    )
    codes = result["code_bytes_mb"]
    print(
        f"  memory: int8 codes {codes:.0f} MB; RSS added {result['rss_added_mb']:.0f} MB "
        f"({result['rss_added_mb'] / codes:.2f}x), peak added {result['peak_added_mb']:.0f} MB "
        f"({result['peak_added_mb'] / codes:.2f}x); index.memory_bytes {result['index_mb']:.0f} MB"
    )
    if "value_index" in result:
        v = result["value_index"]
        print(
            f"  value index of the filter's field: built in {v['seconds']:.2f} s ({v['cpu_s']:.2f} s of CPU), "
            f"{v['mb']:.1f} MB; RSS added then {v['rss_added_mb']:.0f} MB ({v['rss_added_mb'] / codes:.2f}x), "
            f"peak {v['peak_added_mb']:.0f} MB ({v['peak_added_mb'] / codes:.2f}x)"
        )
    print(f"  {'':<14}{'p50 ms':>9}{'p99 ms':>9}{'CPU p50':>9}{'/ floor':>9}{'exact':>8}")
    print(f"  {'f32 floor':<14}{floor['p50']:>9.2f}{floor['p99']:>9.2f}{floor['cpu_p50']:>9.2f}")
    for name in ["unfiltered", "prefix 1%", "filter 10%"]:
        r = result[name]
        ratio = r["cpu_p50"] / floor["cpu_p50"]
        print(
            f"  {name:<14}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['cpu_p50']:>9.2f}{ratio:>8.2f}x"
            f"{result['exact'][name]:>5}/{result['queries']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--backend", choices=["rust", "python", "both"], default="both")
    parser.add_argument("--keep", type=Path, help="folder to keep the store and vectors in (reused if there)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.backend, args.queries))))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="aegra-store-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "store.db").exists():
        matrix = vectors(args.items)
        queries = vectors(args.queries, seed=2)
        np.save(folder / "vectors.npy", matrix)
        np.save(folder / "queries.npy", queries)
        seconds = asyncio.run(fill(folder / "store.db", matrix, queries))
        print(f"fill: {args.items} items through abatch in {seconds:.1f} s ({args.items / seconds:.0f} items/s)")
        del matrix
    backends = ["rust", "python"] if args.backend == "both" else [args.backend]
    for backend in backends:
        report(run_child(folder, backend, args.queries), args.items)
    if not args.keep:
        for name in ("store.db", "store.db-wal", "store.db-shm", "vectors.npy", "queries.npy"):
            (folder / name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
