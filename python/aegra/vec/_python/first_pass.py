"""The first pass (`first_pass.rs`) in numpy: the integer code dot products, and from them the
vectors that may be in the top `capacity` with the threshold every other one scores below.

The dots are computed with BLAS: int8 codes cast to float32 a block at a time into one reused
buffer (1.5 MB: it stays in cache, and nothing of the size of the index is allocated per search),
then one matrix-vector product per block. The products of codes in [-127, 127] summed over fewer
than 1040 dimensions stay below 2^24, so float32 holds every partial sum exactly whatever order
BLAS adds them in: the dots are the Rust kernel's integers, and the bounds built on them are its
bounds. numpy has no fast int8 product: the cast is most of the pass (measured at 100k x 384:
cast 5 ms, products 2.5 ms, the f32 floor 6-7 ms). A float32 copy of the codes kept between
searches would skip the cast but hold 4x the bytes of the codes in memory.

The bounds (`Bounds`): Rust computes each vector's interval in the same loop as its dot. In
numpy every step is a pass over all the scores, so the interval is only computed for the
vectors that can matter: a scaled score per vector (one pass), a cut-off below which no vector
can reach the top `capacity`'s lower bounds (from the largest possible error, `Bounds.widest`),
and the Rust steps on the vectors above it. The result (survivors, threshold) is the same as
computing every interval: see `survivors`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from aegra.vec._python.codes import SLACK

# The float block the codes are cast into: in cache (682 rows at 384 dims). Smaller blocks pay more
# per-call overhead; past 2 MB, casts and products into the block ran 5-7x slower here (measured at
# 768 dims x 1024 rows: 58 ms against 8.5 ms for 50k vectors).
BLOCK_BYTES = 1 << 20
EXACT_F32_DIMS = 1040  # 1040 x 127 x 127 < 2^24
F32_UNIT = 2.0**-24
F32_UNDERFLOW = float(np.finfo(np.float32).tiny) * 2.0**-24
GROUP = 128  # at most this many scores per group when looking for the cut-off (`_cut_off`)


def code_dots(codes: np.ndarray, query_codes: np.ndarray, count: int, slots: np.ndarray | None) -> np.ndarray:
    """The integer dot product of the query's codes with rows `slots` of `codes` (its first
    `count` rows when None), exact: float32 below 1040 dims, float64 from there."""
    dims = codes.shape[1]
    kind = np.float32 if dims < EXACT_F32_DIMS else np.float64
    total = count if slots is None else len(slots)
    step = max(1, BLOCK_BYTES // (dims * np.dtype(kind).itemsize))
    q = query_codes.astype(kind)
    out = np.empty(total, dtype=kind)
    block = np.empty((min(step, total), dims), dtype=kind)
    gathered = np.empty((min(step, total), dims), dtype=np.int8) if slots is not None else None
    for start in range(0, total, step):
        end = min(start + step, total)
        converted = block[: end - start]
        if slots is None or gathered is None:
            converted[...] = codes[start:end]  # int8 -> float: exact
        else:
            rows = gathered[: end - start]
            np.take(codes, slots[start:end], axis=0, out=rows)
            converted[...] = rows
        np.dot(converted, q, out=out[start:end])
    return out


# Given slots: (gain, terms) of the vectors there (see `Bounds`).
Factors = Callable[[np.ndarray | slice], tuple[np.ndarray, tuple[np.ndarray, ...]]]


class Bounds(NamedTuple):
    """A metric's interval around each vector's exact score, `approx +- error` with
    `approx = dot * gain * factor` and `error = (sum of weight * term + constant)` (times SLACK
    when `slack_after`, inner products) `+ 1e-12 |approx|`: the float64 steps the twin has always
    taken (the Rust ones, divided through by `|q| |v|` ahead of time for cosine).

    `factors` gives the per-vector `gain` and `terms` of some slots; `cut_gain` (by slot) is `gain`
    to within float32 rounding, for the cut-off. `term_max` bounds each term over every vector,
    `approx_max` |approx|: together they bound every vector's error."""

    factors: Factors
    cut_gain: np.ndarray
    factor: float
    weights: tuple[np.float64, ...]  # numpy scalars: a float32 term times one is float64
    constant: float
    slack_after: bool
    term_max: tuple[float, ...]
    approx_max: float

    def widest(self) -> float:
        """An upper bound of every vector's `error`."""
        total = sum(float(w) * m for w, m in zip(self.weights, self.term_max, strict=True)) + self.constant
        if self.slack_after:
            total *= SLACK
        return total * (1.0 + 1e-9) + self.approx_max * 1e-12

    def interval(self, dots: np.ndarray, slots: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) bounds for `dots`, the dot products of the vectors in `slots`."""
        gain, terms = self.factors(slots)
        approx = dots.astype(np.float64)
        approx *= gain
        approx *= self.factor
        error = terms[0] * self.weights[0]
        for term, weight in zip(terms[1:], self.weights[1:], strict=True):
            error += term * weight
        error += self.constant
        if self.slack_after:
            error *= SLACK
        error += np.abs(approx) * 1e-12
        lo = approx - error
        approx += error
        return lo, approx


def survivors(dots: np.ndarray, slots: np.ndarray | None, bounds: Bounds, capacity: int) -> tuple[np.ndarray, float]:
    """Of the vectors in `slots` (the first `len(dots)` when None), whose code dot products are
    `dots`: the positions of those whose upper bound reaches the `capacity`-th largest lower bound
    (the threshold; -inf when there are fewer vectors), and that threshold.

    The same as computing every interval: let `cut` be a value that at least `capacity` scaled
    scores (`dots * gain`) reach. Those vectors' lower bounds are at least `cut * factor - widest`,
    so the threshold is too; a vector whose scaled score is below `cut - 2 widest / factor` (with
    room for rounding) has an upper bound below that: it is neither a survivor nor one of the
    `capacity` largest lower bounds, and leaving it out changes neither.
    """
    count = len(dots)
    where: np.ndarray | slice = slice(count) if slots is None else slots
    positions: np.ndarray | None = None  # None: all of them
    if count >= capacity and bounds.factor > 0 and count >= 8 * capacity + 4 * GROUP:
        scaled = dots * bounds.cut_gain[where]
        cut = _cut_off(scaled, capacity)
        margin = (2.0 * bounds.widest() + 1e-6 * bounds.approx_max) / bounds.factor * (1.0 + 1e-6)
        if np.isfinite(cut) and np.isfinite(margin):
            positions = np.flatnonzero(~(scaled < cut - margin))  # NaN kept, as everywhere
    if positions is None:
        lo, hi = bounds.interval(dots, where)
    else:
        lo, hi = bounds.interval(dots[positions], positions if slots is None else slots[positions])
    threshold = -np.inf
    if count >= capacity:
        threshold = float(np.partition(lo, len(lo) - capacity)[len(lo) - capacity])
    keep = np.flatnonzero((hi >= threshold) | np.isnan(hi))
    return (keep if positions is None else positions[keep]), threshold


def _cut_off(scaled: np.ndarray, capacity: int) -> float:
    """A value at least `capacity` of `scaled` reach, near the `capacity`-th largest: the
    `capacity`-th largest of the maxima of groups of scores (each group has a score at its
    maximum). A group holds at most GROUP scores and leaves 4 x `capacity` groups at least, so the
    cut-off stays near the `capacity`-th score (a deep pass of a filtered search asks for 32k).
    One reduction and a partition of a fraction of the scores instead of all of them."""
    group = min(GROUP, len(scaled) // (4 * capacity))
    whole = len(scaled) - len(scaled) % group
    # Group j is every (whole / group)-th score from j: the maxima are an elementwise maximum of
    # `group` contiguous slices (a reduction along a short last axis ran 10x slower).
    maxima = np.concatenate([scaled[:whole].reshape(group, -1).max(axis=0), scaled[whole:]])
    return float(np.partition(maxima, len(maxima) - capacity)[len(maxima) - capacity])
