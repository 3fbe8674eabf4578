"""Vectors as the BLOBs sqlite-vec reads: little-endian float32, no header (sqlite-vec's `float[N]` layout)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FLOAT32 = np.dtype("<f4")


def pack(vector: Sequence[float] | npt.NDArray[np.floating]) -> bytes:
    return np.asarray(vector, dtype=FLOAT32).tobytes()


def unpack(blob: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(blob, dtype=FLOAT32)


def blob_size(dims: int) -> int:
    """Bytes of one packed vector; the store ignores blobs of any other size (vectors of an old model)."""
    return dims * FLOAT32.itemsize


def check_dims(vectors: Sequence[Sequence[float]], dims: int, source: str) -> None:
    """Raise a clear error when an embedder's output does not have the configured size."""
    for vector in vectors:
        if len(vector) != dims:
            raise ValueError(
                f"{source} returned vectors of {len(vector)} dimensions, but the store index is "
                f"configured with dims={dims}; set `store.index.dims` to {len(vector)}"
            )


def check_finite(vectors: Sequence[Sequence[float]], source: str) -> None:
    """Raise a clear error for NaN or infinite components: they would poison every score they touch."""
    if vectors and not np.isfinite(np.asarray(vectors, dtype=np.float64)).all():
        raise ValueError(f"{source} returned a vector with NaN or infinite values; nothing was stored or searched")
