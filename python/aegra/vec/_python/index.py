"""The KNN index (`index/mod.rs`) in numpy: same scores, same order, same errors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from aegra.vec._python.errors import as_rows, check_dims_positive, validate_rows, wrong_dims
from aegra.vec._python.kernels import F32Array, dot_rows, squared_l2_rows

METRICS = ("cosine", "l2", "inner_product")
Namespace = tuple[str, ...]


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; expected 'cosine', 'l2' or 'inner_product'")
    return metric


class VectorIndex:
    """Unlike `index/mod.rs` (one block per namespace), one matrix for all rows plus a namespace id per
    vector: numpy's per-call overhead makes a thousand small scans cost more than one large one.
    Deleting moves the last vector into the hole, so the matrix stays dense."""

    def __init__(self, dims: int) -> None:
        check_dims_positive(dims)
        self._dims = dims
        self._data = np.empty((8, dims), dtype=np.float32)
        self._owners = np.empty(8, dtype=np.int64)
        self._norms = np.empty(8, dtype=np.float64)
        self._spaces = np.empty(8, dtype=np.int32)  # index into `_namespaces`
        self._count = 0
        self._namespace_ids: dict[Namespace, int] = {}
        self._rows: dict[int, list[int]] = {}  # row id -> its vector slots
        self._max_vectors_per_row = 1  # sizes the top-k selection; never shrinks, as in Rust

    @property
    def dims(self) -> int:
        return self._dims

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row_id: int) -> bool:
        return row_id in self._rows

    def vector_count(self) -> int:
        return self._count

    def memory_bytes(self) -> int:
        arrays = self._data.nbytes + self._owners.nbytes + self._norms.nbytes + self._spaces.nbytes
        return arrays + sum(8 * len(slots) for slots in self._rows.values())

    def clear(self) -> None:
        self.__init__(self._dims)  # type: ignore[misc]

    def upsert(self, row_id: int, namespace: Sequence[str], vectors: F32Array) -> None:
        rows = as_rows(vectors, self._dims)
        norms = validate_rows(rows, self._dims)
        self.delete(row_id)
        self._insert(row_id, tuple(namespace), rows, norms)

    def upsert_many(
        self, row_ids: npt.NDArray[np.int64], namespaces: Sequence[Sequence[str]], vectors: F32Array
    ) -> None:
        rows = as_rows(vectors, self._dims)
        norms = validate_rows(rows, self._dims)
        if len(row_ids) != len(rows) or len(namespaces) != len(rows):
            raise ValueError(f"got {len(rows)} vectors but {len(row_ids)} row ids and {len(namespaces)} namespaces")
        positions: dict[int, list[int]] = {}
        for i, row_id in enumerate(row_ids.tolist()):
            picks = positions.setdefault(row_id, [])
            if picks and tuple(namespaces[picks[0]]) != tuple(namespaces[i]):
                raise ValueError(f"row {row_id} has vectors in two namespaces")
            picks.append(i)
        self._reserve(self._count + len(rows))  # exact room: doubling would waste up to half
        for row_id, picks in positions.items():
            self.delete(row_id)
            self._insert(row_id, tuple(namespaces[picks[0]]), rows[picks], norms[picks])

    def delete(self, row_id: int) -> bool:
        slots = self._rows.pop(row_id, None)
        if slots is None:
            return False
        for slot in sorted(slots, reverse=True):  # highest first: never moves this row's own vectors
            last = self._count - 1
            if slot != last:
                for array in (self._data, self._owners, self._norms, self._spaces):
                    array[slot] = array[last]
                moved = self._rows[int(self._owners[slot])]
                moved[moved.index(last)] = slot
            self._count = last
        return True

    def search(
        self,
        query: F32Array,
        k: int,
        namespace_prefix: Sequence[str],
        candidate_ids: npt.NDArray[np.int64] | None,
        metric: str,
    ) -> list[tuple[int, float]]:
        _check_metric(metric)
        if query.size != self._dims:
            raise wrong_dims(self._dims, query.size)
        query = query.reshape(1, -1)
        query_norm = validate_rows(query, self._dims, label="the query vector")[0]
        if k == 0:
            return []
        slots = self._eligible(tuple(namespace_prefix), candidate_ids)
        count = self._count
        if slots is None:
            data, owners, norms = self._data[:count], self._owners[:count], self._norms[:count]
        else:
            data, owners, norms = self._data[slots], self._owners[slots], self._norms[slots]
        if len(owners) == 0:
            return []
        scores = _scores(metric, query[0], query_norm, data, norms)
        return _top_k_rows(scores, owners, k, k * self._max_vectors_per_row)

    def _eligible(self, prefix: Namespace, candidate_ids: npt.NDArray[np.int64] | None) -> np.ndarray | None:
        """Slots to score, or None for all of them."""
        spaces = [i for ns, i in self._namespace_ids.items() if ns[: len(prefix)] == prefix]
        if candidate_ids is None:
            if len(spaces) == len(self._namespace_ids):
                return None
            return np.flatnonzero(np.isin(self._spaces[: self._count], spaces))
        allowed = set(spaces)
        slots = [
            slot
            for row_id in np.unique(candidate_ids).tolist()
            if row_id in self._rows and int(self._spaces[self._rows[row_id][0]]) in allowed
            for slot in self._rows[row_id]
        ]
        return np.array(slots, dtype=np.intp)

    def _reserve(self, capacity: int) -> None:
        if capacity > len(self._owners):
            self._data = np.resize(self._data, (capacity, self._dims))
            self._owners = np.resize(self._owners, capacity)
            self._norms = np.resize(self._norms, capacity)
            self._spaces = np.resize(self._spaces, capacity)

    def _insert(self, row_id: int, namespace: Namespace, rows: F32Array, norms: np.ndarray) -> None:
        if len(rows) == 0:
            return
        end = self._count + len(rows)
        if end > len(self._owners):
            self._reserve(max(end, 2 * len(self._owners)))
        space = self._namespace_ids.setdefault(namespace, len(self._namespace_ids))
        self._data[self._count : end] = rows
        self._owners[self._count : end] = row_id
        self._norms[self._count : end] = norms
        self._spaces[self._count : end] = space
        self._rows[row_id] = list(range(self._count, end))
        self._count = end
        self._max_vectors_per_row = max(self._max_vectors_per_row, len(rows))


def _scores(metric: str, query: F32Array, query_norm: float, data: F32Array, norms: np.ndarray) -> np.ndarray:
    """`Metric::score` of `index/mod.rs`, with the same f32 kernel and the same f64 steps."""
    if metric == "l2":
        return -np.sqrt(squared_l2_rows(data, query)).astype(np.float64) + 0.0
    raw = dot_rows(data, query).astype(np.float64)
    if metric == "inner_product":
        return raw + 0.0
    out = np.zeros(len(raw), dtype=np.float64)
    if query_norm != 0:
        denominators = query_norm * norms
        np.divide(raw, denominators, out=out, where=norms != 0)
    return out + 0.0


def _top_k_rows(scores: np.ndarray, owners: npt.NDArray[np.int64], k: int, capacity: int) -> list[tuple[int, float]]:
    """Rows by best score (highest first), ties by row id; each row once (max pooling)."""
    if len(scores) > capacity:
        # Keeping every vector tied with the capacity-th best keeps the result exact.
        threshold = np.partition(scores, len(scores) - capacity)[len(scores) - capacity]
        keep = np.flatnonzero(scores >= threshold)
        scores, owners = scores[keep], owners[keep]
    order = np.lexsort((owners, -scores))
    scores, owners = scores[order], owners[order]
    _, first = np.unique(owners, return_index=True)
    first = np.sort(first)[:k]
    return list(zip(owners[first].tolist(), scores[first].tolist(), strict=True))
