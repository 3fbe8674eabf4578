"""Exact KNN over the store's vectors, grouped by namespace, from int8 codes kept in memory.

A row is a store item (its integer id); it owns one or more vectors (one per embedded field) and
scores as its best one, as in LangGraph's `InMemoryStore`. Results are `(row_id, score)`, best
first, ties by row id, identical on both backends:

- `cosine`: cosine similarity (0 for a zero vector), what LangGraph's stores report;
- `inner_product`: the dot product (PostgresStore's `-(a <#> b)`).

The index keeps each vector's int8 code record (`encode_codes`: a quarter of the float32 bytes),
not the vector. A search is two steps: `candidates` scans the codes and returns the rows that may
hold a top-k vector (a proof from error bounds, not a guess); their float32 vectors, read by the
caller (the store reads them from its file), are then ranked exactly (`exact_top_k`). `search`
does both with a `VectorSource`. The results are those of scoring every vector exactly.

The index has no persistence: the store loads it from the code records in its file (`load`) and
applies each put/delete of this process. Rust's first pass runs without the GIL; the index may be
shared between threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from aegra.vec import _backend
from aegra.vec.packing import VectorsLike, as_float32, as_matrix

Metric = Literal["cosine", "inner_product"]
METRICS: tuple[Metric, ...] = ("cosine", "inner_product")
CODE_HEADER = 16

# Given row ids, every float32 vector of those rows: (the owner of each vector, an (n, dims) matrix).
VectorSource = Callable[[npt.NDArray[np.int64]], tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]


def code_record_size(dims: int) -> int:
    """Bytes of one code record: norm f64, scale f32, residual f32, then `dims` int8 codes."""
    return CODE_HEADER + dims


def encode_codes(vectors: VectorsLike, dims: int) -> bytes:
    """The code records of `vectors` (validated as `pack_vectors` validates), back to back."""
    return bytes(_backend.current().encode_codes(as_matrix(vectors, dims), dims))


def exact_top_k(
    query: VectorsLike, k: int, owners: npt.NDArray[np.int64] | Sequence[int], vectors: VectorsLike, metric: Metric
) -> list[tuple[int, float]]:
    """The `k` best rows over the given vectors (vector `i` owned by `owners[i]`), scored with the
    canonical float32 kernel: the exact ranking both backends agree on."""
    query = as_float32(query).reshape(-1)
    return _backend.current().exact_top_k(query, int(k), _ids(owners), as_matrix(vectors, query.size), metric)


def _namespace(labels: Sequence[str]) -> tuple[str, ...]:
    if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
        raise TypeError(f"a namespace is a tuple of strings, got {labels!r}")
    return tuple(labels)


def _label_lists(namespaces: Sequence[Sequence[str]]) -> list[list[str]]:
    """Namespaces as the core takes them: one given as a list is passed on as it is (its caller
    converted and checked it once for many calls), any other is checked."""
    return [ns if type(ns) is list else list(_namespace(ns)) for ns in namespaces]


def _ids(row_ids: Iterable[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    ids = np.ascontiguousarray(np.fromiter(row_ids, dtype=np.int64) if not hasattr(row_ids, "dtype") else row_ids)
    if ids.dtype != np.int64:
        ids = ids.astype(np.int64)
    return ids.reshape(-1)


class VectorIndex:
    """`VectorIndex(dims, metric="cosine")`: `metric` is the default of `search`."""

    def __init__(self, dims: int, metric: Metric = "cosine", *, backend: _backend.BackendName | None = None) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric '{metric}'; expected 'cosine' or 'inner_product'")
        implementation = _backend.current() if backend is None else _backend.implementation(backend)
        as_matrix([], dims)  # validates dims
        self._module: Any = implementation
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
        """Bytes held by codes and bookkeeping (capacity, approximate for the Python backend)."""
        return self._impl.memory_bytes()

    def clear(self) -> None:
        self._impl.clear()

    def reserve(self, vectors: int) -> None:
        """Room for `vectors` more vectors, allocated at once (before a load in chunks)."""
        self._impl.reserve(int(vectors))

    def reserve_namespaces(self, namespaces: Sequence[Sequence[str]], counts: Sequence[int]) -> None:
        """`reserve` for a load of `counts[i]` vectors in `namespaces[i]`, each namespace given one
        run of the arena (the Rust core; a load in chunks otherwise gives a namespace a run per
        chunk, and a prefix's scan jumps between them). A namespace that gets more vectors than
        its count takes another run for the rest."""
        if len(namespaces) != len(counts):
            raise ValueError("reserve_namespaces: one count per namespace")
        self._impl.reserve_namespaces(_label_lists(namespaces), [int(c) for c in counts])

    def huge_pages(self, collapse: bool = False) -> bool:
        """Ask for huge pages on the codes (`reserve` leaves them on 4 KB pages, which a load writes
        at a steadier cost); `collapse`: move the pages written so far now (seconds of kernel time
        at worst: call it off the event loop). True when done; the numpy twin leaves its arrays as
        numpy allocated them (False)."""
        return bool(self._impl.huge_pages(bool(collapse)))

    def encode(self, vectors: VectorsLike) -> bytes:
        """The code records of `vectors`, by this index's backend."""
        return bytes(self._module.encode_codes(as_matrix(vectors, self.dims), self.dims))

    def upsert(self, row_id: int, namespace: Sequence[str], vectors: VectorsLike) -> None:
        """Sets the vectors of `row_id` (one vector, or several rows; none removes the row)."""
        self.upsert_codes(row_id, namespace, self.encode(vectors))

    def upsert_codes(self, row_id: int, namespace: Sequence[str], records: bytes) -> None:
        """`upsert` from code records (what the store keeps beside each vector)."""
        self._impl.upsert(int(row_id), list(_namespace(namespace)), records)

    def upsert_many(
        self,
        row_ids: Iterable[int] | npt.NDArray[np.integer],
        namespaces: Sequence[Sequence[str]],
        vectors: VectorsLike,
    ) -> None:
        """Bulk: vector `i` belongs to `row_ids[i]` in `namespaces[i]`; each row named gets exactly
        its vectors from this call. All or nothing."""
        distinct: dict[tuple[str, ...], int] = {}
        spaces = np.fromiter((distinct.setdefault(_namespace(ns), len(distinct)) for ns in namespaces), dtype=np.uint32)
        self.load(row_ids, spaces, list(distinct), self.encode(vectors))

    def load(
        self,
        row_ids: Iterable[int] | npt.NDArray[np.integer],
        namespace_ids: npt.NDArray[np.integer],
        namespaces: Sequence[Sequence[str]],
        records: bytes | npt.NDArray[np.uint8],
    ) -> None:
        """Bulk, from code records: record `i` belongs to `row_ids[i]` in
        `namespaces[namespace_ids[i]]`. All or nothing. A namespace given as a list is passed on as
        it is (the store's loader converts its namespaces once, not once per chunk: checking every
        label of every chunk cost 0.25 s of a million-vector load)."""
        spaces = np.ascontiguousarray(namespace_ids, dtype=np.uint32).reshape(-1)
        self._impl.upsert_many(_ids(row_ids), spaces, _label_lists(namespaces), records)

    def delete(self, row_id: int) -> bool:
        """Removes a row; False when it was not there."""
        return self._impl.delete(int(row_id))

    def candidates(
        self,
        query: VectorsLike,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: Iterable[int] | npt.NDArray[np.integer] | None = None,
        metric: Metric | None = None,
    ) -> tuple[npt.NDArray[np.int64], dict[str, float]]:
        """The rows under `namespace_prefix` (and among `candidate_ids` when given) that may be in
        the top `k` (ascending ids; every row of the exact top-k is among them), and how the scan
        ran: {"selected": vectors scanned, "survivors": vectors not ruled out, "threshold": every
        vector ruled out scores below it}."""
        rows, stats = self._impl.candidates(
            *self._first_pass_arguments(query, k, namespace_prefix, candidate_ids, metric)
        )
        return np.frombuffer(rows, dtype="<i8").astype(np.int64, copy=False), stats

    def bounded_candidates(
        self,
        query: VectorsLike,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: Iterable[int] | npt.NDArray[np.integer] | None = None,
        metric: Metric | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], dict[str, float]]:
        """`candidates` with an upper bound of each row's score, best bound first (ties by id): a
        caller checking a filter on the rows can stop once its k-th best passing score reaches the
        bound of the rows left. A core without bounds (the numpy twin, for now) gives +inf for
        every row, ascending ids: the caller then checks them all."""
        rows, highs, stats = self._impl.bounded_candidates(
            *self._first_pass_arguments(query, k, namespace_prefix, candidate_ids, metric)
        )
        return np.frombuffer(rows, dtype="<i8").astype(np.int64, copy=False), np.frombuffer(highs, dtype="<f8"), stats

    def _first_pass_arguments(
        self,
        query: VectorsLike,
        k: int,
        namespace_prefix: Sequence[str],
        candidate_ids: Iterable[int] | npt.NDArray[np.integer] | None,
        metric: Metric | None,
    ) -> tuple[Any, ...]:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        vector = as_float32(query).reshape(-1)
        ids = None if candidate_ids is None else _ids(candidate_ids)
        return vector, int(k), list(_namespace(namespace_prefix)), ids, metric or self.metric

    def search(
        self,
        query: VectorsLike,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: Iterable[int] | npt.NDArray[np.integer] | None = None,
        metric: Metric | None = None,
        *,
        vectors: VectorSource,
    ) -> list[tuple[int, float]]:
        """The `k` best rows under `namespace_prefix` (and among `candidate_ids` when given),
        exactly: `candidates`, then the float32 vectors that `vectors` returns for them, ranked."""
        rows, _ = self.candidates(query, k, namespace_prefix, candidate_ids, metric)
        if not len(rows):
            return []
        owners, matrix = vectors(rows)
        return self.exact(query, k, owners, matrix, metric)

    def exact(
        self,
        query: VectorsLike,
        k: int,
        owners: npt.NDArray[np.int64] | Sequence[int],
        vectors: VectorsLike,
        metric: Metric | None = None,
    ) -> list[tuple[int, float]]:
        """`exact_top_k` on this index's backend: the second step of `search`."""
        query = as_float32(query).reshape(-1)
        return self._module.exact_top_k(
            query, int(k), _ids(owners), as_matrix(vectors, self.dims), metric or self.metric
        )
