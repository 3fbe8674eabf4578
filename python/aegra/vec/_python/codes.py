"""Code records (`codes.rs`) and int8 quantization (`kernels/int8.rs`) in numpy: the same bytes.

A record is `norm` f64 | `scale` f32 | `residual` f32 | `dims` int8 codes, little-endian. Every
step below is the Rust one spelled in numpy (f64 arithmetic, one rounding each, sums in the
canonical lanes of `kernels._lane_sum`), so both backends write byte-identical records.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aegra.vec._python.errors import as_rows, check_dims_positive, validate_rows
from aegra.vec._python.kernels import F32Array, _lane_sum

HEADER = 16
RECORD_HEADER = np.dtype([("norm", "<f8"), ("scale", "<f4"), ("residual", "<f4")])
F32_MIN_NORMAL = float(np.finfo(np.float32).tiny)
F64_MIN_NORMAL = float(np.finfo(np.float64).tiny)
SLACK = 1.0 + 1e-9
BLOCK_ROWS = 2048


def record_size(dims: int) -> int:
    return HEADER + dims


def record_dtype(dims: int) -> np.dtype:
    return np.dtype([("norm", "<f8"), ("scale", "<f4"), ("residual", "<f4"), ("codes", "i1", (dims,))])


def f32_at_least(values: np.ndarray) -> np.ndarray:
    """The smallest f32 not below each (non-negative, finite) f64 value."""
    rounded = values.astype(np.float32)
    low = rounded.astype(np.float64) < values
    rounded[low] = np.nextafter(rounded[low], np.float32(np.inf))
    return rounded


def quantize(rows: F32Array, norms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`int8::quantize` of each row: (codes int8 (n, dims), scale f32, residual f32)."""
    codes = np.zeros(rows.shape, dtype=np.int8)
    scale = np.zeros(len(rows), dtype=np.float32)
    residual = np.zeros(len(rows), dtype=np.float32)
    # A block at a time: the float64 temporaries of a whole large batch would not stay in cache.
    for start in range(0, len(rows), BLOCK_ROWS):
        block = slice(start, start + BLOCK_ROWS)
        codes[block], scale[block], residual[block] = _quantize_block(rows[block], norms[block])
    return codes, scale, residual


def _quantize_block(rows: F32Array, norms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wide = rows.astype(np.float64)
    largest = np.abs(wide).max(axis=1) if wide.shape[1] else np.zeros(len(wide))
    scale = (largest / 127.0).astype(np.float32)
    residual = np.zeros(len(rows), dtype=np.float32)
    # Subnormal scales keep no codes: the vector lies `norm` from zero.
    tiny = (largest > 0) & ~(scale >= F32_MIN_NORMAL)
    residual[tiny] = f32_at_least(norms[tiny] * SLACK)
    scale[tiny] = 0
    coded = scale >= F32_MIN_NORMAL
    s = np.where(coded, scale, 1).astype(np.float64)[:, None]
    y = wide / s
    whole = np.trunc(y)
    # Rust's round(): half away from zero (numpy's rounds half to even).
    c = whole + np.sign(y) * (np.abs(y - whole) >= 0.5)
    np.clip(c, -127, 127, out=c)
    c[~coded] = 0
    errors = wide - s * c
    errors *= errors
    total = _lane_sum(errors)
    residual[coded] = f32_at_least(np.sqrt(total[coded]) * SLACK + F64_MIN_NORMAL)
    return c.astype(np.int8), scale, residual


def code_norm(codes: np.ndarray, scale: float) -> float:
    """`int8::code_norm`: an upper bound of `|scale * codes|`."""
    values = float(scale) * codes.astype(np.float64)
    return float(np.sqrt(_lane_sum((values * values).reshape(1, -1))[0]) * SLACK)


def encode_codes(vectors: F32Array, dims: int) -> bytes:
    check_dims_positive(dims)
    rows = as_rows(vectors, dims)
    norms = validate_rows(rows, dims)
    codes, scale, residual = quantize(rows, norms)
    out = np.empty(len(rows), dtype=record_dtype(dims))
    out["norm"], out["scale"], out["residual"], out["codes"] = norms, scale, residual, codes
    return out.tobytes()


def parse_records(records: bytes | memoryview | npt.NDArray[np.uint8], dims: int) -> np.ndarray:
    """The records as a structured array, checked as `codes::parse` checks them."""
    check_dims_positive(dims)
    size = record_size(dims)
    data = memoryview(records).cast("B")  # type: ignore[arg-type]  # numpy arrays are buffers (numpy's stubs say not)
    if len(data) % size:
        raise ValueError(f"{len(data)} bytes are not whole code records of {size} bytes ({dims} dimensions)")
    parsed = np.frombuffer(data, dtype=record_dtype(dims))
    norm, scale, residual = parsed["norm"], parsed["scale"], parsed["residual"]
    with np.errstate(over="ignore", invalid="ignore"):
        bad_norm = ~(np.isfinite(norm) & (norm >= 0) & (norm * norm <= float(np.finfo(np.float32).max)))
    bad_bounds = ~(np.isfinite(scale) & (scale >= 0) & np.isfinite(residual) & (residual >= 0))
    bad_code = (parsed["codes"] == -128).any(axis=1)
    for index in range(len(parsed)) if (bad_norm | bad_bounds | bad_code).any() else ():
        if bad_norm[index]:
            raise ValueError(f"code record {index} is malformed: bad norm")
        if bad_bounds[index]:
            raise ValueError(f"code record {index} is malformed: bad scale or residual")
        if bad_code[index]:
            raise ValueError(f"code record {index} is malformed: a code of -128")
    return parsed
