"""Batching benchmark: how much of a 10,000-item put is ours, and what length bucketing buys.

    python benches/vector/batching.py [--items 10000]

Embeds with a MiniLM-shaped random-weight encoder through fastembed (see `minilm_shaped.py`; no
model download), one onnxruntime thread. Texts are mixed lengths (3-120 words) with 20% repeats.

1. A put of N items: our work (texts at the field paths, de-duplication, length-bucketed batches,
   validation + normalization + packing into BLOBs, index upsert) against time inside the model.
2. The same distinct texts embedded in fixed-size batches in arrival order (what a naive caller
   does) against length-bucketed batches of the same maximum size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benches.vector.minilm_shaped import HIDDEN, build
from benches.vector.timing import one_thread

one_thread()
import numpy as np  # noqa: E402

from aegra import vec  # noqa: E402
from aegra.vec._backend import available  # noqa: E402

WORDS = "the user prefers dark mode and short answers about travel food music work family budget".split()  # noqa: SIM905


def make_items(count: int) -> list[dict]:
    rng = np.random.default_rng(5)
    lengths = np.clip(rng.lognormal(3.0, 0.9, count).astype(int), 3, 120)
    texts = [" ".join(rng.choice(WORDS, n)) for n in lengths]
    for i in rng.choice(count, count // 5, replace=False):  # 20% repeat an earlier text
        texts[i] = texts[rng.integers(0, max(1, i))]
    return [{"content": text, "kind": "note", "n": i} for i, text in enumerate(texts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--max-batch", type=int, default=64)
    args = parser.parse_args()

    from fastembed import TextEmbedding

    name, folder = build(Path(tempfile.mkdtemp()) / "minilm-shaped")
    model = TextEmbedding(name, specific_model_path=str(folder), threads=1)

    def embed(batch: list[str]) -> np.ndarray:
        return np.stack(list(model.embed(batch, batch_size=len(batch))))

    items = make_items(args.items)
    embed(["warm up the session"])
    budget = args.max_batch * 48  # characters: about 64 texts of 48 chars, 8 of 400
    print(f"{args.items} items, {HIDDEN} dims, fastembed + onnxruntime, one thread, {vec.build_info()['backend']}")

    for backend in available():
        with vec.using(backend):
            model_seconds = 0.0
            start = time.perf_counter()
            plan = vec.plan_texts([(item, None) for item in items], default_fields=["content"])
            batches = vec.length_batches(plan.texts, budget=budget, max_batch=args.max_batch)
            vectors = np.empty((len(plan.texts), HIDDEN), dtype=np.float32)
            for batch in batches:
                texts = [plan.texts[i] for i in batch]
                t = time.perf_counter()
                out = embed(texts)
                model_seconds += time.perf_counter() - t
                vectors[batch] = out
            blobs = vec.pack_vectors(vectors, HIDDEN)
            index = vec.VectorIndex(HIDDEN)
            owners = [(position, unique) for unique, names in enumerate(plan.owners) for position, _ in names]
            index.upsert_many(
                [position for position, _ in owners],
                [("notes",)] * len(owners),
                vectors[[unique for _, unique in owners]],
            )
            total = time.perf_counter() - start
        ours = total - model_seconds
        print(
            f"{backend:>6}: put of {args.items} items ({len(plan.texts)} distinct texts, {len(batches)} batches, "
            f"{len(blobs)} blobs): {total:.2f} s total, model {model_seconds:.2f} s = {model_seconds / total:.1%}, "
            f"ours {ours * 1000:.0f} ms"
        )

    distinct = plan.texts
    start = time.perf_counter()
    for i in range(0, len(distinct), args.max_batch):
        embed(distinct[i : i + args.max_batch])
    naive = time.perf_counter() - start
    start = time.perf_counter()
    for batch in vec.length_batches(distinct, budget=10**9, max_batch=args.max_batch):
        embed([distinct[i] for i in batch])
    sorted_only = time.perf_counter() - start
    start = time.perf_counter()
    for batch in vec.length_batches(distinct, budget=budget, max_batch=args.max_batch):
        embed([distinct[i] for i in batch])
    bucketed = time.perf_counter() - start
    print(f"{len(distinct)} distinct texts, batches of <= {args.max_batch}:")
    print(f"  fixed-size, arrival order:        {naive:.2f} s")
    print(f"  length-sorted, count cut only:    {sorted_only:.2f} s  ({naive / sorted_only:.2f}x)")
    print(f"  length-sorted + {budget}-char budget: {bucketed:.2f} s  ({naive / bucketed:.2f}x)")


if __name__ == "__main__":
    main()
