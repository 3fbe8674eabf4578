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
from aegra.vec._python.rows import RowSlots

METRICS = ("cosine", "inner_product")
Namespace = tuple[str, ...]
PREFIXES_KEPT = 16  # prefixes whose slots are kept until the next write
PREFIXES_REMEMBERED = 4096  # prefixes whose namespace ids are remembered
SCAN_PER_ID = 32  # a candidate id looked up alone costs about as much as scanning this many slots


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; expected 'cosine' or 'inner_product'")
    return metric


class VectorIndex:
    """Unlike `index/mod.rs` (one block per namespace), one array of codes for all rows plus a
    namespace id per vector: numpy's per-call overhead makes a thousand small scans cost more than
    one large one. Deleting moves the last vector into the hole, so the arrays stay dense.

    Per vector: the int8 codes, the record's scale, residual and norm, its owner and namespace, and
    a float32 `scale / norm` for the first pass's cut-off: 32 bytes beside the codes. The cosine
    bounds' other per-vector factors are computed for the few vectors that need them."""

    def __init__(self, dims: int) -> None:
        check_dims_positive(dims)
        self._dims = dims
        self._codes = np.empty((0, dims), dtype=np.int8)
        self._scales = np.empty(0, dtype=np.float32)
        self._residuals = np.empty(0, dtype=np.float32)
        self._norms = np.empty(0, dtype=np.float64)
        self._owners = np.empty(0, dtype=np.int64)
        self._spaces = np.empty(0, dtype=np.int32)  # index into `_namespaces`
        self._gain32 = np.empty(0, dtype=np.float32)  # scale / norm (0 for a zero norm)
        self._count = 0
        self._namespace_ids: dict[Namespace, int] = {}
        self._namespaces: list[Namespace] = []  # by id
        self._prefix_spaces: dict[Namespace, list[int]] = {}  # see `_spaces_under`
        self._prefix_slots: dict[Namespace, tuple[int, np.ndarray]] = {}  # see `_eligible`
        self._rows = RowSlots()
        self._max_vectors_per_row = 1  # sizes the first pass's threshold; never shrinks, as in Rust
        # Upper bounds over every vector held of residual / norm, 1 / norm, norm and residual (they
        # bound every vector's error, `Bounds.widest`): raised by writes, kept by deletes.
        self._spread_max = self._inverse_max = self._norm_max = self._residual_max = 0.0
        self._version = 0  # counts writes: a kept first pass (`_memo`) is for one version
        self._memo: tuple[tuple, np.ndarray | None, np.ndarray] | None = None

    @property
    def dims(self) -> int:
        return self._dims

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row_id: int) -> bool:
        return self._rows.get(row_id) is not None

    def vector_count(self) -> int:
        return self._count

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self._codes, self._scales, self._residuals, self._norms, self._owners, self._spaces, self._gain32)

    def memory_bytes(self) -> int:
        memo = self._memo
        kept = 0 if memo is None else memo[2].nbytes + (0 if memo[1] is None else memo[1].nbytes)
        kept += sum(slots.nbytes for _, slots in self._prefix_slots.values())
        return sum(a.nbytes for a in self._arrays()) + self._rows.nbytes() + kept

    def clear(self) -> None:
        self.__init__(self._dims)  # type: ignore[misc]

    def reserve(self, vectors: int) -> None:
        self._reserve(self._count + vectors)
        self._rows.reserve(vectors)

    def reserve_namespaces(self, namespaces: Sequence[Sequence[str]], counts: Sequence[int]) -> None:
        self.reserve(sum(counts))  # one array per field: no runs to lay out

    def huge_pages(self, collapse: bool) -> bool:
        return False  # numpy advises huge pages on its large arrays itself

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
        if len(np.unique(row_ids)) == len(row_ids):
            # One vector per row (a load, a batch of puts): in one step per array.
            for row_id in row_ids[self._rows.present(row_ids)].tolist():
                self.delete(row_id)
            self._reserve(self._count + len(parsed))
            self._append(parsed, row_ids, [tuple(ns) for ns in namespaces], namespace_ids)
            return
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
        self._reserve(self._count + len(parsed))
        for row_id, picks in positions.items():
            self._insert(row_id, tuple(namespaces[spaces[picks[0]]]), parsed[picks])

    def delete(self, row_id: int) -> bool:
        slots = self._rows.remove(row_id)
        if slots is None:
            return False
        for slot in sorted(slots, reverse=True):  # highest first: never moves this row's own vectors
            last = self._count - 1
            if slot != last:
                for array in self._arrays():
                    array[slot] = array[last]
                self._rows.move(int(self._owners[slot]), last, slot)
            self._count = last
        self._version += 1  # after the change: a search that read the version before it keeps nothing
        return True

    def bounded_candidates(
        self,
        query: F32Array,
        k: int,
        namespace_prefix: Sequence[str],
        candidate_ids: npt.NDArray[np.int64] | None,
        metric: str,
    ) -> tuple[bytes, bytes, dict[str, float]]:
        """`candidates` with +inf as every row's bound, ascending ids: the twin does not bound rows
        yet, so a caller checking a filter on them checks them all (`VectorCache._rank_checked`)."""
        rows, stats = self.candidates(query, k, namespace_prefix, candidate_ids, metric)
        return rows, np.full(len(rows) // 8, np.inf, dtype="<f8").tobytes(), stats

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
        prefix = tuple(namespace_prefix)
        # A filtered search asks again with a larger k when too few of the first candidates pass
        # its filter (`rank_filtered`): the same query's code dots (and slots) are kept for it
        # while nothing is written (4 bytes a vector: one scan of a million vectors is ~90 ms).
        key = (prefix, query.tobytes(), self._version) if candidate_ids is None else None
        memo = self._memo
        if key is not None and memo is not None and memo[0] == key:
            slots, dots = memo[1], memo[2]
        else:
            slots, dots = self._eligible(prefix, candidate_ids), None
        survivors, threshold, dots = self._first_pass(
            query[0], query_norm, metric, slots, k * self._max_vectors_per_row, dots
        )
        if key is not None:
            self._memo = (key, slots, dots)
        selected = self._count if slots is None else len(slots)
        owners = np.sort(self._owners[survivors]).astype("<i8", copy=False)
        owners = owners[np.concatenate(([True], owners[1:] != owners[:-1]))] if len(owners) else owners
        return owners.tobytes(), {
            "selected": float(selected),
            "survivors": float(len(survivors)),
            "threshold": threshold,
        }

    def _first_pass(
        self,
        query: F32Array,
        query_norm: float,
        metric: str,
        slots: np.ndarray | None,
        capacity: int,
        dots: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """The slots that may hold a vector of the exact top `capacity`, the threshold every
        other vector scores below (see `first_pass.rs`), and the code dots (given: not recomputed)."""
        count = self._count if slots is None else len(slots)
        if count == 0:
            return np.empty(0, dtype=np.intp), -np.inf, np.empty(0, dtype=np.float32)
        q_codes, q_scale, q_residual = quantize(query.reshape(1, -1), np.array([query_norm]))
        scale, residual = float(q_scale[0]), float(q_residual[0])
        q_code_norm = code_norm(q_codes[0], scale)
        n = float(self._dims)
        rounding = 2.0 * (n + 1.0) * F32_UNIT / (1.0 - (n + 1.0) * F32_UNIT) * query_norm
        underflow = 2.0 * n * F32_UNDERFLOW
        if dots is None:
            dots = code_dots(self._codes, q_codes[0], count, slots)
        if metric == "cosine" and query_norm != 0:
            # The Rust bounds divided through by `|q| |v|` ahead of time (`cosine_factors` per
            # vector). Their rounding (a few ulps) is covered by the slack terms.
            bounds = Bounds(
                factors=self._cosine_factors,
                cut_gain=self._gain32,
                factor=scale / query_norm,
                weights=(np.float64(q_code_norm / query_norm * SLACK), np.float64(underflow / query_norm * SLACK)),
                constant=(residual + rounding) / query_norm * SLACK,
                slack_after=False,
                term_max=(self._spread_max, self._inverse_max),
                approx_max=(1.0 + self._spread_max) * q_code_norm / query_norm * (1.0 + 1e-6),
            )
        elif metric == "cosine":  # a zero query scores 0 against everything
            zero = np.float64(0.0)
            bounds = Bounds(self._cosine_factors, self._gain32, 0.0, (zero, zero), 0.0, False, (0.0, 0.0), 0.0)
        else:
            bounds = Bounds(
                factors=lambda at: (self._scales[at], (self._norms[at], self._residuals[at])),
                cut_gain=self._scales,
                factor=scale,
                weights=(np.float64(residual + rounding), np.float64(q_code_norm)),
                constant=underflow,
                slack_after=True,
                term_max=(self._norm_max, self._residual_max),
                approx_max=(self._norm_max + self._residual_max) * q_code_norm * (1.0 + 1e-6),
            )
        keep, threshold = survivors(dots, slots, bounds, capacity)
        return (keep if slots is None else slots[keep]), threshold, dots

    def _cosine_factors(self, at: np.ndarray | slice) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        inverse, gain, spread = cosine_factors(self._norms[at], self._scales[at], self._residuals[at])
        return gain, (spread, inverse)

    def _eligible(self, prefix: Namespace, candidate_ids: npt.NDArray[np.int64] | None) -> np.ndarray | None:
        """Slots to scan (ascending), or None for all of them."""
        spaces = self._spaces_under(prefix)
        everywhere = len(spaces) == len(self._namespace_ids)
        if candidate_ids is None:
            if everywhere:
                return None
            now = self._version  # read first: a write meanwhile makes what follows stale, not kept
            version, kept = self._prefix_slots.get(prefix, (-1, None))
            if version == now and kept is not None:
                return kept
            if len(spaces) == 1:
                slots = np.flatnonzero(self._spaces[: self._count] == spaces[0])
            else:
                slots = np.flatnonzero(np.take(self._space_mask(spaces), self._spaces[: self._count]))
            # Kept until the next write (a pass over every vector's namespace: 2.5 ms at 1M), for
            # a few prefixes of at most 1/8 of the vectors.
            if len(slots) * 8 <= self._count:
                if len(self._prefix_slots) >= PREFIXES_KEPT or any(v != now for v, _ in self._prefix_slots.values()):
                    self._prefix_slots = {}
                self._prefix_slots[prefix] = (now, slots)
            return slots
        if len(candidate_ids) * SCAN_PER_ID < self._count:  # a few rows: their slots, one by one
            allowed = set(spaces)
            found = (self._rows.get(row_id) for row_id in np.unique(candidate_ids).tolist())
            listed = [slot for row in found if row and int(self._spaces[row[0]]) in allowed for slot in row]
            return np.sort(np.array(listed, dtype=np.intp))
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
        if prefix not in self._prefix_spaces and len(self._prefix_spaces) >= PREFIXES_REMEMBERED:
            self._prefix_spaces = {}  # a bound on a server's many prefixes (one per user, say)
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
        """Room for `capacity` vectors. Past the first fill, at least 1/8 more each time: a put
        after a load would otherwise copy every array. Fresh arrays are `np.empty` and only their
        used part is copied: the room's pages stay untouched (not resident) until written."""
        if capacity > len(self._owners):
            if self._count:
                capacity = max(capacity, len(self._owners) + len(self._owners) // 8)
            for name in ("_codes", "_scales", "_residuals", "_norms", "_owners", "_spaces", "_gain32"):
                old = getattr(self, name)
                new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
                new[: self._count] = old[: self._count]
                setattr(self, name, new)

    def _append(
        self, parsed: np.ndarray, row_ids: np.ndarray, namespaces: list[Namespace], namespace_ids: np.ndarray
    ) -> None:
        """Rows of one vector each, distinct, none of them present."""
        start, end = self._count, self._count + len(parsed)
        space_of = np.array([self._space_id(ns) for ns in namespaces], dtype=np.int32)
        self._write(slice(start, end), parsed, row_ids, space_of[namespace_ids] if len(parsed) else 0)
        self._rows.add_many(np.asarray(row_ids, dtype=np.int64), start)
        self._count = end
        self._version += 1

    def _insert(self, row_id: int, namespace: Namespace, parsed: np.ndarray) -> None:
        if len(parsed) == 0:
            return
        end = self._count + len(parsed)
        self._reserve(end)
        space = self._space_id(namespace)
        self._write(slice(self._count, end), parsed, row_id, space)
        self._rows.add(row_id, list(range(self._count, end)))
        self._count = end
        self._max_vectors_per_row = max(self._max_vectors_per_row, len(parsed))
        self._version += 1

    def _write(self, where: slice, parsed: np.ndarray, owners: npt.ArrayLike, spaces: npt.ArrayLike) -> None:
        self._codes[where] = parsed["codes"]
        self._scales[where] = parsed["scale"]
        self._residuals[where] = parsed["residual"]
        self._norms[where] = parsed["norm"]
        self._owners[where] = owners
        self._spaces[where] = spaces
        if len(parsed):
            inverse, gain, spread = cosine_factors(parsed["norm"], parsed["scale"], parsed["residual"])
            self._gain32[where] = gain
            self._spread_max = max(self._spread_max, float(spread.max()))
            self._inverse_max = max(self._inverse_max, float(inverse.max()))
            self._norm_max = max(self._norm_max, float(parsed["norm"].max()))
            self._residual_max = max(self._residual_max, float(parsed["residual"].max()))


def cosine_factors(norms: np.ndarray, scales: np.ndarray, residuals: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per vector: 1 / norm, scale / norm, residual / norm (all 0 for a zero norm), float64."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(norms > 0, 1.0 / norms, 0.0)
    return inverse, scales.astype(np.float64) * inverse, residuals.astype(np.float64) * inverse


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
