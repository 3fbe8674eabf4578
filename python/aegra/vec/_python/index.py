"""The KNN index (`index/mod.rs`) in numpy: the same code records, the same candidates, the same
exact ranking (`exact.rs`) and errors. The first pass is in `first_pass.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from aegra.vec._python.codes import SLACK, code_norm, parse_records, quantize
from aegra.vec._python.errors import as_rows, check_dims_positive, validate_rows, wrong_dims
from aegra.vec._python.first_pass import F32_UNDERFLOW, F32_UNIT, Bounds, code_dots, survivors
from aegra.vec._python.kernels import F32Array, dot_rows

METRICS = ("cosine", "inner_product")
Namespace = tuple[str, ...]
SCAN_PER_ID = 32  # a candidate id looked up alone costs about as much as scanning this many slots


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; expected 'cosine' or 'inner_product'")
    return metric


class VectorIndex:
    """Unlike `index/mod.rs` (one block per namespace), one array of codes for all rows plus a
    namespace id per vector: numpy's per-call overhead makes a thousand small scans cost more than
    one large one. Deleting moves the last vector into the hole, so the arrays stay dense."""

    def __init__(self, dims: int) -> None:
        check_dims_positive(dims)
        self._dims = dims
        self._codes = np.empty((8, dims), dtype=np.int8)
        self._scales = np.empty(8, dtype=np.float32)
        self._residuals = np.empty(8, dtype=np.float32)
        self._norms = np.empty(8, dtype=np.float64)
        self._owners = np.empty(8, dtype=np.int64)
        self._spaces = np.empty(8, dtype=np.int32)  # index into `_namespace_ids`
        # Cosine bounds' per-vector factors: scale / norm, residual / norm, 1 / norm (0 for zero norm).
        self._gain = np.empty(8, dtype=np.float64)
        self._spread = np.empty(8, dtype=np.float64)
        self._inverse = np.empty(8, dtype=np.float64)
        self._count = 0
        self._namespace_ids: dict[Namespace, int] = {}
        self._rows: dict[int, list[int]] = {}  # row id -> its vector slots
        self._max_vectors_per_row = 1  # sizes the first pass's threshold; never shrinks, as in Rust
        # Upper bounds of `_spread`, `_inverse`, `_norms`, `_residuals` over every vector held (they
        # bound every vector's error, `Bounds.widest`): raised by writes, kept by deletes.
        self._spread_max = self._inverse_max = self._norm_max = self._residual_max = 0.0
        self._namespaces: list[Namespace] = []  # by id
        self._prefix_spaces: dict[Namespace, list[int]] = {}  # see `_spaces_under`

    @property
    def dims(self) -> int:
        return self._dims

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row_id: int) -> bool:
        return row_id in self._rows

    def vector_count(self) -> int:
        return self._count

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self._codes,
            self._scales,
            self._residuals,
            self._norms,
            self._owners,
            self._spaces,
            self._gain,
            self._spread,
            self._inverse,
        )

    def memory_bytes(self) -> int:
        return sum(a.nbytes for a in self._arrays()) + sum(8 * len(slots) for slots in self._rows.values())

    def clear(self) -> None:
        self.__init__(self._dims)  # type: ignore[misc]

    def reserve(self, vectors: int) -> None:
        self._reserve(self._count + vectors)

    def upsert(self, row_id: int, namespace: Sequence[str], records: bytes) -> None:
        parsed = parse_records(records, self._dims)
        self.delete(row_id)
        self._insert(row_id, tuple(namespace), parsed)

    def upsert_many(
        self,
        row_ids: npt.NDArray[np.int64],
        namespace_ids: npt.NDArray[np.uint32],
        namespaces: Sequence[Sequence[str]],
        records: bytes | npt.NDArray[np.uint8],
    ) -> None:
        parsed = parse_records(records, self._dims)
        if len(row_ids) != len(parsed) or len(namespace_ids) != len(parsed):
            raise ValueError(
                f"got {len(parsed)} code records but {len(row_ids)} row ids and {len(namespace_ids)} namespace ids"
            )
        if len(namespace_ids) and int(namespace_ids.max()) >= len(namespaces):
            raise ValueError(f"namespace id {int(namespace_ids.max())} is out of range ({len(namespaces)} namespaces)")
        ids = row_ids.tolist()
        spaces = namespace_ids.tolist()
        positions: dict[int, list[int]] = {}
        for i, row_id in enumerate(ids):
            picks = positions.setdefault(row_id, [])
            if picks and spaces[picks[0]] != spaces[i]:
                raise ValueError(f"row {row_id} has vectors in two namespaces")
            picks.append(i)
        for row_id in positions:
            self.delete(row_id)
        self._reserve(self._count + len(parsed))  # exact room: doubling would waste up to half
        if len(positions) == len(parsed):
            # One vector per row (a load): appended in one step per array.
            self._append(parsed, row_ids, [tuple(ns) for ns in namespaces], namespace_ids)
            return
        for row_id, picks in positions.items():
            self._insert(row_id, tuple(namespaces[spaces[picks[0]]]), parsed[picks])

    def delete(self, row_id: int) -> bool:
        slots = self._rows.pop(row_id, None)
        if slots is None:
            return False
        for slot in sorted(slots, reverse=True):  # highest first: never moves this row's own vectors
            last = self._count - 1
            if slot != last:
                for array in self._arrays():
                    array[slot] = array[last]
                moved = self._rows[int(self._owners[slot])]
                moved[moved.index(last)] = slot
            self._count = last
        return True

    def candidates(
        self,
        query: F32Array,
        k: int,
        namespace_prefix: Sequence[str],
        candidate_ids: npt.NDArray[np.int64] | None,
        metric: str,
    ) -> tuple[bytes, dict[str, float]]:
        check_metric(metric)
        if query.size != self._dims:
            raise wrong_dims(self._dims, query.size)
        query = query.reshape(1, -1)
        query_norm = float(validate_rows(query, self._dims, label="the query vector")[0])
        if k == 0:
            return b"", {"selected": 0.0, "survivors": 0.0, "threshold": np.inf}
        slots = self._eligible(tuple(namespace_prefix), candidate_ids)
        survivors, threshold = self._first_pass(query[0], query_norm, metric, slots, k * self._max_vectors_per_row)
        selected = self._count if slots is None else len(slots)
        owners = np.unique(self._owners[survivors]).astype("<i8")
        return owners.tobytes(), {
            "selected": float(selected),
            "survivors": float(len(survivors)),
            "threshold": threshold,
        }

    def _first_pass(
        self, query: F32Array, query_norm: float, metric: str, slots: np.ndarray | None, capacity: int
    ) -> tuple[np.ndarray, float]:
        """The slots that may hold a vector of the exact top `capacity`, and the threshold every
        other vector scores below (see `first_pass.rs`)."""
        count = self._count if slots is None else len(slots)
        if count == 0:
            return np.empty(0, dtype=np.intp), -np.inf
        q_codes, q_scale, q_residual = quantize(query.reshape(1, -1), np.array([query_norm]))
        scale, residual = float(q_scale[0]), float(q_residual[0])
        q_code_norm = code_norm(q_codes[0], scale)
        n = float(self._dims)
        rounding = 2.0 * (n + 1.0) * F32_UNIT / (1.0 - (n + 1.0) * F32_UNIT) * query_norm
        underflow = 2.0 * n * F32_UNDERFLOW
        dots = code_dots(self._codes, q_codes[0], count, slots)
        if metric == "cosine" and query_norm != 0:
            # The Rust bounds divided through by `|q| |v|` ahead of time (`_gain`, `_spread`,
            # `_inverse` per vector). Their rounding (a few ulps) is covered by the slack terms.
            bounds = Bounds(
                gain=self._gain,
                factor=scale / query_norm,
                terms=(self._spread, self._inverse),
                weights=(np.float64(q_code_norm / query_norm * SLACK), np.float64(underflow / query_norm * SLACK)),
                constant=(residual + rounding) / query_norm * SLACK,
                slack_after=False,
                term_max=(self._spread_max, self._inverse_max),
                approx_max=(1.0 + self._spread_max) * q_code_norm / query_norm * (1.0 + 1e-6),
            )
        elif metric == "cosine":  # a zero query scores 0 against everything
            zero = np.float64(0.0)
            bounds = Bounds(self._gain, 0.0, (self._spread,), (zero,), 0.0, False, (0.0,), 0.0)
        else:
            bounds = Bounds(
                gain=self._scales,
                factor=scale,
                terms=(self._norms, self._residuals),
                weights=(np.float64(residual + rounding), np.float64(q_code_norm)),
                constant=underflow,
                slack_after=True,
                term_max=(self._norm_max, self._residual_max),
                approx_max=(self._norm_max + self._residual_max) * q_code_norm * (1.0 + 1e-6),
            )
        keep, threshold = survivors(dots, slots, bounds, capacity)
        return (keep if slots is None else slots[keep]), threshold

    def _eligible(self, prefix: Namespace, candidate_ids: npt.NDArray[np.int64] | None) -> np.ndarray | None:
        """Slots to scan (ascending), or None for all of them."""
        spaces = self._spaces_under(prefix)
        everywhere = len(spaces) == len(self._namespace_ids)
        if candidate_ids is None:
            if everywhere:
                return None
            if len(spaces) == 1:
                return np.flatnonzero(self._spaces[: self._count] == spaces[0])
            return np.flatnonzero(self._space_mask(spaces)[self._spaces[: self._count]])
        if len(candidate_ids) * SCAN_PER_ID < self._count:  # a few rows: their slots, one by one
            allowed = set(spaces)
            slots = [
                slot
                for row_id in np.unique(candidate_ids).tolist()
                if row_id in self._rows and int(self._spaces[self._rows[row_id][0]]) in allowed
                for slot in self._rows[row_id]
            ]
            return np.sort(np.array(slots, dtype=np.intp))
        # Many (a value filter's result): one pass over every slot's owner instead of a Python
        # step per id.
        picked = np.isin(self._owners[: self._count], candidate_ids)
        if not everywhere:
            picked &= self._space_mask(spaces)[self._spaces[: self._count]]
        return np.flatnonzero(picked)

    def _spaces_under(self, prefix: Namespace) -> list[int]:
        """The namespace ids under `prefix`, remembered per prefix (namespaces are only ever
        added, with increasing ids: a remembered list is brought up to date from the new ones)."""
        if not prefix:
            return list(range(len(self._namespaces)))
        known = self._prefix_spaces.setdefault(prefix, [0])  # [namespaces looked at, *ids]
        width = len(prefix)
        for space in range(known[0], len(self._namespaces)):
            if self._namespaces[space][:width] == prefix:
                known.append(space)
        known[0] = len(self._namespaces)
        return known[1:]

    def _space_mask(self, spaces: list[int]) -> np.ndarray:
        mask = np.zeros(len(self._namespaces), dtype=bool)
        mask[spaces] = True
        return mask

    def _space_id(self, namespace: Namespace) -> int:
        space = self._namespace_ids.setdefault(namespace, len(self._namespaces))
        if space == len(self._namespaces):
            self._namespaces.append(namespace)
        return space

    def _reserve(self, capacity: int) -> None:
        if capacity > len(self._owners):
            self._codes = np.resize(self._codes, (capacity, self._dims))
            for name in ("_scales", "_residuals", "_norms", "_owners", "_spaces", "_gain", "_spread", "_inverse"):
                setattr(self, name, np.resize(getattr(self, name), capacity))

    def _append(
        self, parsed: np.ndarray, row_ids: np.ndarray, namespaces: list[Namespace], namespace_ids: np.ndarray
    ) -> None:
        """Rows of one vector each, none of them present."""
        start, end = self._count, self._count + len(parsed)
        space_of = np.array([self._space_id(ns) for ns in namespaces])
        self._write(slice(start, end), parsed, row_ids, space_of[namespace_ids] if len(parsed) else 0)
        self._rows.update(zip(row_ids.tolist(), ([slot] for slot in range(start, end)), strict=True))
        self._count = end

    def _insert(self, row_id: int, namespace: Namespace, parsed: np.ndarray) -> None:
        if len(parsed) == 0:
            return
        end = self._count + len(parsed)
        if end > len(self._owners):
            self._reserve(max(end, 2 * len(self._owners)))
        space = self._space_id(namespace)
        self._write(slice(self._count, end), parsed, row_id, space)
        self._rows[row_id] = list(range(self._count, end))
        self._count = end
        self._max_vectors_per_row = max(self._max_vectors_per_row, len(parsed))

    def _write(self, where: slice, parsed: np.ndarray, owners: npt.ArrayLike, spaces: npt.ArrayLike) -> None:
        self._codes[where] = parsed["codes"]
        self._scales[where] = parsed["scale"]
        self._residuals[where] = parsed["residual"]
        self._norms[where] = parsed["norm"]
        self._owners[where] = owners
        self._spaces[where] = spaces
        norms = parsed["norm"]
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = np.where(norms > 0, 1.0 / norms, 0.0)
        self._inverse[where] = inverse
        self._gain[where] = parsed["scale"].astype(np.float64) * inverse
        spread = parsed["residual"].astype(np.float64) * inverse
        self._spread[where] = spread
        if len(parsed):
            self._spread_max = max(self._spread_max, float(spread.max()))
            self._inverse_max = max(self._inverse_max, float(inverse.max()))
            self._norm_max = max(self._norm_max, float(norms.max()))
            self._residual_max = max(self._residual_max, float(parsed["residual"].max()))


def exact_top_k(
    query: F32Array, k: int, owners: npt.NDArray[np.int64], vectors: F32Array, metric: str
) -> list[tuple[int, float]]:
    """`exact::top_k`: the canonical f32 kernel and the same f64 steps as Rust."""
    check_metric(metric)
    dims = query.size
    query = query.reshape(1, -1)
    query_norm = float(validate_rows(query, dims, label="the query vector")[0])
    rows = as_rows(vectors, dims) if vectors.size else vectors.reshape(0, dims)
    if len(rows) != len(owners):
        raise ValueError(f"got {rows.size} floats for {len(owners)} owners of {dims}-dimension vectors")
    norms = validate_rows(rows, dims)
    if k == 0 or len(rows) == 0:
        return []
    raw = dot_rows(rows, query[0]).astype(np.float64)
    if metric == "inner_product":
        scores = raw + 0.0
    else:
        scores = np.zeros(len(raw), dtype=np.float64)
        if query_norm != 0:
            np.divide(raw, query_norm * norms, out=scores, where=norms != 0)
        scores = scores + 0.0
    order = np.lexsort((owners, -scores))
    scores, ranked = scores[order], owners[order]
    _, first = np.unique(ranked, return_index=True)
    first = np.sort(first)[:k]
    return list(zip(ranked[first].tolist(), scores[first].tolist(), strict=True))
