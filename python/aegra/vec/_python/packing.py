"""Validation, normalization and BLOB packing (`packing.rs`) in numpy."""

from __future__ import annotations

import numpy as np

from aegra.vec._python.errors import as_rows, check_dims_positive, validate_rows
from aegra.vec._python.kernels import F32Array

LITTLE_F32 = np.dtype("<f4")


def _normalized(rows: F32Array, norms: np.ndarray) -> F32Array:
    # float64 division rounded to float32, like Rust's `(v as f64 / norm) as f32`; zeros stay zero.
    safe = np.where(norms > 0, norms, 1.0)
    return (rows.astype(np.float64) / safe[:, None]).astype(np.float32)


def pack_vectors(vectors: F32Array, dims: int, normalize: bool) -> list[bytes]:
    check_dims_positive(dims)
    rows = as_rows(vectors, dims)
    norms = validate_rows(rows, dims)
    out = _normalized(rows, norms) if normalize else rows
    # `bytes(row)` reads each row's buffer in C: one copy into each BLOB, no Python arithmetic.
    return list(map(bytes, np.ascontiguousarray(out, dtype=LITTLE_F32)))


def normalize_into(vectors: F32Array, out: F32Array, dims: int) -> None:
    check_dims_positive(dims)
    rows = as_rows(vectors, dims)
    if out.size != rows.size or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous float32 array of the input's shape")
    norms = validate_rows(rows, dims)
    out.reshape(rows.shape)[...] = _normalized(rows, norms)
