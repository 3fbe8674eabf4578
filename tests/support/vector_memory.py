"""A `VectorIndex` beside the float32 vectors it was given: what the store keeps in its file, here
in a dict, so that tests and benchmarks can search the index as the store does (`search` reads the
survivors' vectors from `vectors_of`) and hold it to the brute force (`brute_force`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from aegra import vec


class MemoryIndex:
    def __init__(self, dims: int, metric: vec.Metric = "cosine", *, backend: Any = None) -> None:
        self.index = vec.VectorIndex(dims, metric, backend=backend)
        self.dims = dims
        self.backend = self.index.backend
        self.rows: dict[int, tuple[tuple[str, ...], np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, row_id: int) -> bool:
        return row_id in self.index

    def vector_count(self) -> int:
        return self.index.vector_count()

    def memory_bytes(self) -> int:
        return self.index.memory_bytes()

    def clear(self) -> None:
        self.index.clear()
        self.rows.clear()

    def upsert(self, row_id: int, namespace: Sequence[str], vectors: Any) -> None:
        matrix = vec.as_matrix(vectors, self.dims)
        self.index.upsert(row_id, namespace, matrix)
        self.rows.pop(int(row_id), None)
        if len(matrix):
            self.rows[int(row_id)] = (tuple(namespace), matrix.copy())

    def upsert_many(self, row_ids: Iterable[int], namespaces: Sequence[Sequence[str]], vectors: Any) -> None:
        ids = [int(r) for r in row_ids]
        matrix = vec.as_matrix(vectors, self.dims)
        self.index.upsert_many(ids, namespaces, matrix)
        for row in set(ids):
            picks = [i for i, r in enumerate(ids) if r == row]
            self.rows[row] = (tuple(namespaces[picks[0]]), matrix[picks].copy())

    def delete(self, row_id: int) -> bool:
        self.rows.pop(int(row_id), None)
        return self.index.delete(row_id)

    def vectors_of(self, row_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        owners: list[int] = []
        parts: list[np.ndarray] = [np.empty((0, self.dims), dtype=np.float32)]
        for row in row_ids.tolist():
            if row in self.rows:
                matrix = self.rows[row][1]
                owners += [row] * len(matrix)
                parts.append(matrix)
        return np.array(owners, dtype=np.int64), np.concatenate(parts)

    def search(
        self,
        query: Any,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: Any = None,
        metric: vec.Metric | None = None,
    ) -> list[tuple[int, float]]:
        return self.index.search(query, k, namespace_prefix, candidate_ids, metric, vectors=self.vectors_of)

    def brute_force(
        self,
        query: Any,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: Any = None,
        metric: vec.Metric | None = None,
    ) -> list[tuple[int, float]]:
        """Every eligible vector scored exactly: the answer by definition."""
        prefix = tuple(namespace_prefix)
        allowed = None if candidate_ids is None else {int(c) for c in candidate_ids}
        eligible = [
            row
            for row, (space, _) in self.rows.items()
            if space[: len(prefix)] == prefix and (allowed is None or row in allowed)
        ]
        owners, matrix = self.vectors_of(np.array(sorted(eligible), dtype=np.int64))
        return vec.exact_top_k(query, k, owners, matrix, metric or self.index.metric)


def brute_force_keys(query: np.ndarray, k: int, ids: np.ndarray, table: np.ndarray) -> list[tuple[str, float]]:
    """The top `k` of the items `ids` (item `i` keyed `k{i}`, its vector `table[i]`), every vector
    scored exactly: what a store's semantic search must answer."""
    if not len(ids):
        return []
    with vec._backend.using("rust" if "rust" in vec._backend.available() else "python"):
        found = vec.exact_top_k(query, k, ids, table[ids], "cosine")
    return [(f"k{i}", score) for i, score in found]
