"""The Rust core's error messages (`crates/aegra-vec/src/errors.rs`), word for word."""

from __future__ import annotations

import math

import numpy as np

from aegra.vec._python.kernels import F32Array, row_norms


def wrong_dims(expected: int, got: int) -> ValueError:
    return ValueError(f"expected vectors of {expected} dimensions, got {got}")


def check_dims_positive(dims: int) -> None:
    if dims <= 0:
        raise ValueError(f"dims must be a positive integer, got {dims}")


def _float_name(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


F32_MAX = float(np.finfo(np.float32).max)


def validate_rows(data: F32Array, dims: int, label: str | None = None) -> np.ndarray:
    """Row norms (float64) of a `(n, dims)` matrix; NaN/inf anywhere is reported before any overflow.

    `label` names a single vector (the query); otherwise rows are `vector <i>`.
    """
    flat = data.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat))
    if len(bad):
        index = int(bad[0])
        name = label or f"vector {index // dims}"
        raise ValueError(
            f"{name} has a non-finite value ({_float_name(float(flat[index]))}) at position {index % dims}"
        )
    norms = row_norms(data)
    # `fits_f32` in packing.rs: the squared norm must fit float32, so float32 dots cannot overflow.
    overflow = np.flatnonzero(~(norms * norms <= F32_MAX))
    if len(overflow):
        name = label or f"vector {int(overflow[0])}"
        raise ValueError(f"{name} is too large: its squared norm overflows float32")
    return norms


def as_rows(vectors: np.ndarray, dims: int) -> F32Array:
    """The checks `matrix()` does in `python/mod.rs`: 1-D or 2-D, rows `dims` wide unless empty."""
    if vectors.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D or 2-D array of vectors, got {vectors.ndim} dimensions")
    width = vectors.shape[-1]
    if width != dims and vectors.size > 0:
        raise wrong_dims(dims, width)
    return vectors.reshape(-1, dims)
