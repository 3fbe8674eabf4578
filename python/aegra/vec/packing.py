"""Vectors in and out of sqlite-vec's BLOB layout: little-endian float32, no header (what
`sqlite_vec.serialize_float32` writes, and what `vec0` and `vec_distance_*` read).

Validation is the same on both backends: the dims must match, NaN/inf is a `ValueError` naming
the vector and position, and so is a vector whose squared norm overflows float32.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from aegra.vec import _backend

FLOAT32 = np.dtype("<f4")
VectorsLike = Sequence[Sequence[float]] | Sequence[float] | npt.NDArray[np.floating]


def _check_dims(dims: int) -> None:
    if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
        raise ValueError(f"dims must be a positive integer, got {dims!r}")


def as_float32(values: VectorsLike) -> npt.NDArray[np.float32]:
    """A C-contiguous float32 array of `values` (no copy if it already is one)."""
    try:
        with np.errstate(over="ignore"):  # values beyond float32 become inf, reported as such later
            return np.ascontiguousarray(values, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"vectors must be numbers, all of the same length ({exc})") from exc


def as_matrix(vectors: VectorsLike, dims: int) -> npt.NDArray[np.float32]:
    """`vectors` as a C-contiguous `(n, dims)` float32 array; copies only when it must.

    One vector (1-D) becomes one row; an empty input becomes `(0, dims)`.
    """
    _check_dims(dims)
    # An embedder's list of lists: read straight into float32 (numpy's nested-list conversion costs
    # twice as much, 15 us per 384-float vector - a third of a put's own work).
    if isinstance(vectors, list) and vectors and all(isinstance(row, list) and len(row) == dims for row in vectors):
        try:
            with np.errstate(over="ignore"):
                flat = np.fromiter(itertools.chain.from_iterable(vectors), np.float32, len(vectors) * dims)
            return flat.reshape(len(vectors), dims)
        except (ValueError, TypeError):
            pass  # not plain numbers: the general path below says what is wrong
    matrix = as_float32(vectors)
    if matrix.size == 0:
        return matrix.reshape(0, dims)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 1-D or 2-D array of vectors, got {matrix.ndim} dimensions")
    if matrix.shape[1] != dims:
        raise ValueError(f"expected vectors of {dims} dimensions, got {matrix.shape[1]}")
    return matrix


def pack_vectors(vectors: VectorsLike, dims: int, normalize: bool = True) -> list[bytes]:
    """One BLOB per vector, L2-normalized unless `normalize=False` (zero vectors stay zero).

    Validated before any BLOB is built; each BLOB is written once, straight from the float32 input.
    """
    return _backend.current().pack_vectors(as_matrix(vectors, dims), dims, normalize)


def pack_vector(vector: VectorsLike, dims: int, normalize: bool = True) -> bytes:
    matrix = as_matrix(vector, dims)
    if len(matrix) != 1:
        raise ValueError(f"expected one vector, got {len(matrix)}")
    return pack_vectors(matrix, dims, normalize)[0]


def normalize(vectors: VectorsLike, dims: int) -> npt.NDArray[np.float32]:
    """L2-normalized float32 copy `(n, dims)`; validated like `pack_vectors`."""
    matrix = as_matrix(vectors, dims)
    out = np.empty_like(matrix)
    _backend.current().normalize_into(matrix, out, dims)
    return out


def check_embeddings(vectors: Sequence[Sequence[float]], dims: int, source: str) -> None:
    """Raise a clear error naming `source` (an embedder) when its vectors do not have the configured
    size, or hold NaN or infinite values (they would poison every score they touch)."""
    for vector in vectors:
        if len(vector) != dims:
            raise ValueError(
                f"{source} returned vectors of {len(vector)} dimensions, but the store index is "
                f"configured with dims={dims}; set `store.index.dims` to {len(vector)}"
            )
    if vectors and not np.isfinite(np.asarray(vectors, dtype=np.float64)).all():
        raise ValueError(f"{source} returned a vector with NaN or infinite values; nothing was stored or searched")


def blob_size(dims: int) -> int:
    """Bytes of one packed vector."""
    return dims * FLOAT32.itemsize


def unpack_vector(blob: bytes | memoryview, dims: int) -> npt.NDArray[np.float32]:
    """A read-only float32 view of one BLOB (no copy)."""
    if len(blob) != blob_size(dims):
        raise ValueError(f"a BLOB of {len(blob)} bytes is not a vector of {dims} float32 values")
    return np.frombuffer(blob, dtype=FLOAT32)


def unpack_matrix(blobs: Sequence[bytes], dims: int) -> npt.NDArray[np.float32]:
    """Stacks BLOBs into one `(n, dims)` float32 array (one copy), e.g. to rebuild a `VectorIndex`."""
    size = blob_size(dims)
    if set(map(len, blobs)) - {size}:
        bad = next(i for i, blob in enumerate(blobs) if len(blob) != size)
        raise ValueError(f"BLOB {bad} has {len(blobs[bad])} bytes, not {size} ({dims} float32 values)")
    return np.frombuffer(b"".join(blobs), dtype=FLOAT32).reshape(len(blobs), dims)
