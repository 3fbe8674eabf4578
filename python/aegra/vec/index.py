"""Exact KNN over the store's vectors, in memory, grouped by namespace.

A row is a store item (its integer id); it owns one or more vectors (one per embedded field) and
scores as its best one, as in LangGraph's `InMemoryStore`. Results are `(row_id, score)`, best
first, ties by row id, identical on both backends:

- `cosine`: cosine similarity (0 for a zero vector), what LangGraph's stores report;
- `l2`: minus the Euclidean distance (PostgresStore's `-(a <-> b)`);
- `inner_product`: the dot product (PostgresStore's `-(a <#> b)`).

The index is a cache with no persistence: the `.db` file is the truth. The store loads it at
start (`upsert_many`) and applies each put/delete of this process (`upsert`/`delete`). Rust
searches run without the GIL; the index may be shared between threads. Large Rust searches under
cosine or inner product first scan int8 codes of the vectors and re-score only the vectors whose
score bounds can reach the top-k (see `set_first_pass`): still exact, same results as the twin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from aegra.vec import _backend
from aegra.vec.packing import VectorsLike, as_float32, as_matrix

Metric = Literal["cosine", "l2", "inner_product"]
METRICS: tuple[Metric, ...] = ("cosine", "l2", "inner_product")


def _namespace(labels: Sequence[str]) -> tuple[str, ...]:
    if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
        raise TypeError(f"a namespace is a tuple of strings, got {labels!r}")
    return tuple(labels)


def _ids(row_ids: Iterable[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    ids = np.ascontiguousarray(np.fromiter(row_ids, dtype=np.int64) if not hasattr(row_ids, "dtype") else row_ids)
    if ids.dtype != np.int64:
        ids = ids.astype(np.int64)
    return ids.reshape(-1)


class VectorIndex:
    """`VectorIndex(dims, metric="cosine")`: `metric` is the default of `search`."""

    def __init__(self, dims: int, metric: Metric = "cosine", *, backend: _backend.BackendName | None = None) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric '{metric}'; expected 'cosine', 'l2' or 'inner_product'")
        implementation = _backend.current() if backend is None else _backend.implementation(backend)
        as_matrix([], dims)  # validates dims
        self._impl: Any = implementation.VectorIndex(dims)
        self.backend: _backend.BackendName = _backend.name_of(implementation)
        self.dims = dims
        self.metric: Metric = metric

    def __len__(self) -> int:
        """Rows held."""
        return len(self._impl)

    def __contains__(self, row_id: int) -> bool:
        return row_id in self._impl

    def __repr__(self) -> str:
        return f"VectorIndex(dims={self.dims}, metric={self.metric!r}, rows={len(self)}, backend={self.backend!r})"

    def vector_count(self) -> int:
        return self._impl.vector_count()

    def memory_bytes(self) -> int:
        """Bytes held by vectors and bookkeeping (capacity, approximate for the Python backend)."""
        return self._impl.memory_bytes()

    def clear(self) -> None:
        self._impl.clear()

    def upsert(self, row_id: int, namespace: Sequence[str], vectors: VectorsLike) -> None:
        """Sets the vectors of `row_id` (one vector, or several rows; none removes the row)."""
        self._impl.upsert(int(row_id), _namespace(namespace), as_matrix(vectors, self.dims))

    def upsert_many(
        self,
        row_ids: Iterable[int] | npt.NDArray[np.integer],
        namespaces: Sequence[Sequence[str]],
        vectors: VectorsLike,
    ) -> None:
        """Bulk load: vector `i` belongs to `row_ids[i]` in `namespaces[i]`; each row named gets
        exactly its vectors from this call. All or nothing."""
        self._impl.upsert_many(_ids(row_ids), [_namespace(ns) for ns in namespaces], as_matrix(vectors, self.dims))

    def delete(self, row_id: int) -> bool:
        """Removes a row; False when it was not there."""
        return self._impl.delete(int(row_id))

    def set_first_pass(self, min_vectors: int | None) -> None:
        """From how many selected vectors on a Rust search takes the int8 first pass (None: never,
        0: always). It skips, provably, vectors that cannot make the top-k, so results are the same
        either way; only time differs. The numpy twin always scans exactly (this is a no-op there)."""
        if self.backend == "rust":
            self._impl._set_first_pass_min_vectors(min_vectors)

    def search(
        self,
        query: VectorsLike,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: Iterable[int] | npt.NDArray[np.integer] | None = None,
        metric: Metric | None = None,
    ) -> list[tuple[int, float]]:
        """The `k` best rows under `namespace_prefix` (and among `candidate_ids` when given)."""
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        vector = as_float32(query).reshape(-1)
        candidates = None if candidate_ids is None else _ids(candidate_ids)
        return self._impl.search(vector, int(k), _namespace(namespace_prefix), candidates, metric or self.metric)
