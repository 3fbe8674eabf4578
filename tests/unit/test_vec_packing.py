"""Vectors to sqlite-vec BLOBs and back: layout, normalization, validation, both backends alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sqlite_vec
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aegra import vec
from aegra.vec._backend import available

BACKENDS = available()


@pytest.mark.parametrize("backend", BACKENDS)
def test_blobs_are_what_sqlite_vec_serializes(backend: str) -> None:
    vectors = [[0.5, -2.0, 3.25], [1e-3, 0.0, 7.0]]
    with vec.using(backend):  # type: ignore[arg-type]
        blobs = vec.pack_vectors(vectors, dims=3, normalize=False)
        normalized = vec.pack_vectors(vectors, dims=3)
    assert blobs == [sqlite_vec.serialize_float32(v) for v in vectors]
    assert all(isinstance(blob, bytes) for blob in blobs)
    for blob, vector in zip(normalized, vectors, strict=True):
        unpacked = vec.unpack_vector(blob, 3)
        assert np.linalg.norm(unpacked) == pytest.approx(1.0, abs=1e-6)
        assert unpacked == pytest.approx(np.array(vector) / np.linalg.norm(vector), abs=1e-6)
    matrix = vec.unpack_matrix(blobs, 3)
    assert matrix.dtype == np.float32 and matrix.shape == (2, 3)
    assert matrix.tolist() == np.array(vectors, dtype=np.float32).tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_and_zero_vectors(backend: str) -> None:
    with vec.using(backend):  # type: ignore[arg-type]
        assert vec.pack_vectors([], dims=4) == []
        assert vec.pack_vectors(np.zeros((0, 4)), dims=4) == []
        assert vec.pack_vector([0.0, 0.0], dims=2) == bytes(8)  # a zero vector stays zero
        assert vec.pack_vector(np.array([3.0, 4.0]), dims=2) == sqlite_vec.serialize_float32([0.6, 0.8])
        assert vec.normalize([[3, 4], [0, 0]], dims=2).tolist() == [
            [np.float32(0.6), np.float32(0.8)],
            [0.0, 0.0],
        ]
    assert vec.unpack_matrix([], 5).shape == (0, 5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("vectors", "dims", "message"),
    [
        ([[1.0, 2.0, 3.0]], 2, "expected vectors of 2 dimensions, got 3"),
        ([[1.0, 2.0], [1.0]], 2, "vectors must be numbers, all of the same length"),
        ([["a", "b"]], 2, "vectors must be numbers"),
        ([[1.0, 2.0], [math.inf, math.nan]], 2, r"vector 1 has a non-finite value \(inf\) at position 0"),
        ([[1.0, math.nan]], 2, r"vector 0 has a non-finite value \(nan\) at position 1"),
        ([[1e300, 1.0]], 2, r"vector 0 has a non-finite value \(inf\) at position 0"),  # overflows float32
        ([[1.0, 1.0], [3e38, 3e38]], 2, "vector 1 is too large: its squared norm overflows float32"),
        ([[[1.0]]], 1, "expected a 1-D or 2-D array of vectors, got 3 dimensions"),
        ([[1.0]], 0, "dims must be a positive integer, got 0"),
    ],
)
def test_bad_vectors_raise_clear_errors(backend: str, vectors: list, dims: int, message: str) -> None:
    with vec.using(backend), pytest.raises(ValueError, match=message):  # type: ignore[arg-type]
        vec.pack_vectors(vectors, dims)
    with vec.using(backend), pytest.raises(ValueError, match=message):  # type: ignore[arg-type]
        vec.normalize(vectors, dims)


def test_unpacking_checks_sizes() -> None:
    with pytest.raises(ValueError, match="BLOB 1 has 4 bytes, not 8"):
        vec.unpack_matrix([bytes(8), bytes(4)], 2)
    with pytest.raises(ValueError, match="not a vector of 3 float32"):
        vec.unpack_vector(bytes(8), 3)


finite_or_not = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)
matrices = st.integers(1, 70).flatmap(
    lambda dims: st.tuples(
        st.just(dims),
        hnp.arrays(np.float32, st.tuples(st.integers(0, 6), st.just(dims)), elements=finite_or_not),
    )
)


def _outcome(backend: str, dims: int, matrix: np.ndarray, normalize: bool) -> object:
    with vec.using(backend):  # type: ignore[arg-type]
        try:
            return vec.pack_vectors(matrix, dims, normalize=normalize), vec.normalize(matrix, dims).tobytes()
        except ValueError as exc:
            return str(exc)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="the Rust extension is not built")
@settings(max_examples=300, deadline=None)
@given(case=matrices, normalize=st.booleans())
def test_backends_pack_identical_bytes_and_errors(case: tuple[int, np.ndarray], normalize: bool) -> None:
    dims, matrix = case
    assert _outcome("rust", dims, matrix, normalize) == _outcome("python", dims, matrix, normalize)
