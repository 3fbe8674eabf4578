"""The Rust kernels' summation order in numpy, so both backends produce the same float32 bits.

See `crates/aegra-vec/src/kernels.rs`: element `i` of each product row is added into lane
`i % 32` chunk after chunk, then lanes fold in halves. numpy's own `@`/`sum` use other orders
(BLAS blocking, pairwise sums), which differ in the last bits and could reorder near-ties.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

LANES = 32
# Rows per step: keeps the (rows x dims) temporaries in cache.
BLOCK_ROWS = 2048

F32Array = npt.NDArray[np.float32]


def _lane_sum(products: np.ndarray) -> np.ndarray:
    rows, dims = products.shape
    full = dims - dims % LANES
    acc = np.zeros((rows, LANES), dtype=products.dtype)
    for start in range(0, full, LANES):
        acc += products[:, start : start + LANES]
    if full < dims:
        acc[:, : dims - full] += products[:, full:]
    width = LANES // 2
    while width >= 1:
        acc = acc[:, :width] + acc[:, width : 2 * width]
        width //= 2
    return acc[:, 0]


def _blocked(matrix: F32Array, per_block: Callable[[F32Array], np.ndarray], dtype: type = np.float32) -> np.ndarray:
    out: np.ndarray = np.empty(len(matrix), dtype=dtype)
    # Overflow to inf is expected and handled by the callers (a "too large" error, or an l2
    # score of -inf), as it is in Rust.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(matrix), BLOCK_ROWS):
            out[start : start + BLOCK_ROWS] = per_block(matrix[start : start + BLOCK_ROWS])
    return out


def dot_rows(matrix: F32Array, query: F32Array) -> F32Array:
    """`sum(row * query)` for each row, in the canonical order."""
    return _blocked(matrix, lambda block: _lane_sum(block * query))


def squared_l2_rows(matrix: F32Array, query: F32Array) -> F32Array:
    """`sum((query - row)^2)` for each row, in the canonical order."""

    def per_block(block: F32Array) -> F32Array:
        diff = query - block
        diff *= diff
        return _lane_sum(diff)

    return _blocked(matrix, per_block)


def row_norms(matrix: F32Array) -> npt.NDArray[np.float64]:
    """Norms summed in float64 (`kernels::norm`): float32 squares would under/overflow."""

    def per_block(block: F32Array) -> np.ndarray:
        wide = block.astype(np.float64)
        return _lane_sum(wide * wide)

    return np.sqrt(_blocked(matrix, per_block, np.float64))
