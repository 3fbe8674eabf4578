"""Types of the Rust extension `aegra._vec` (crates/aegra-vec, built by maturin).

Callers use `aegra.vec`, which converts inputs and hands this module C-contiguous float32/int64
arrays; `aegra.vec._python` is the numpy twin with the same names and behaviour. Bad input raises
`ValueError` with the same message on both; a panic inside Rust raises `RuntimeError` (the process
lives on).
"""

from collections.abc import Sequence
from typing import Any, Literal, Self, TypedDict, final

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
    "VectorIndex",
    "__version__",
    "_panic_for_tests",
    "_read_all",
    "build_info",
    "dedupe_texts",
    "encode_codes",
    "exact_top_k",
    "get_text_at_path",
    "length_batches",
    "normalize_into",
    "pack_vectors",
    "positions_of",
    "tokenize_path",
]

_F32 = npt.NDArray[np.float32]
_I64 = npt.NDArray[np.int64]
_U32 = npt.NDArray[np.uint32]
_U8 = npt.NDArray[np.uint8]

class _BuildInfo(TypedDict):
    version: str
    profile: str
    arch: str
    simd: list[str]  # what the kernels run with on this CPU, e.g. ["avx2"]
    compiled_simd: list[str]  # the build's baseline, e.g. ["sse2"]
    kernel: Literal["avx2", "portable"]
    description: str

def build_info() -> _BuildInfo:
    """Facts about the compiled extension: version, cargo profile, arch, the SIMD instruction sets
    in use on this CPU (the kernel chosen at run time) and those the build was compiled for."""

def tokenize_path(path: str) -> list[str]:
    """`langgraph.store.base.embed.tokenize_path`."""

def get_text_at_path(obj: Any, path: str | list[str]) -> list[str]:
    """`langgraph.store.base.embed.get_text_at_path` (the caller turns a top-level non-dict
    Mapping into a dict first)."""

def dedupe_texts(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """`(first, inverse)`: where each distinct text first occurs; each text's distinct index."""

def length_batches(texts: Sequence[str], budget: int, max_batch: int) -> list[list[int]]:
    """Positions in embedder batches, shortest texts first, under a padded-character budget."""

def pack_vectors(vectors: _F32, dims: int, normalize: bool) -> list[bytes]:
    """One little-endian float32 BLOB per row of a 1-D/2-D array (validated first)."""

def normalize_into(vectors: _F32, out: _F32, dims: int) -> None:
    """Writes the L2-normalized rows of `vectors` into `out` (same shape, writable)."""

def encode_codes(vectors: _F32, dims: int) -> bytes:
    """The int8 code record of each row (`16 + dims` bytes: norm f64, scale f32, residual f32,
    codes), back to back; validated as `pack_vectors` validates."""

def exact_top_k(
    query: _F32, k: int, owners: _I64, vectors: _F32, metric: Literal["cosine", "inner_product"]
) -> list[tuple[int, float]]:
    """The k best rows over the given vectors (vector i owned by owners[i]), scored with the
    canonical float32 kernel; best first, ties by row id."""

def positions_of(data: _U8, value: int) -> bytes:
    """The positions of `value` in a byte array, ascending, as little-endian int64 bytes."""

def _panic_for_tests(message: str) -> None:
    """Panics inside Rust on purpose; raises `RuntimeError`."""

def _read_all(data: _F32) -> float:
    """Sums a float32 array in one streaming read (benchmarks' memory-bandwidth floor)."""

@final
class VectorIndex:
    """The KNN index of int8 code records grouped by namespace; see `aegra.vec.index`."""

    def __new__(cls, dims: int) -> Self: ...
    @property
    def dims(self) -> int: ...
    def __len__(self) -> int: ...
    def __contains__(self, row_id: int, /) -> bool: ...
    def vector_count(self) -> int: ...
    def memory_bytes(self) -> int: ...
    def clear(self) -> None: ...
    def reserve(self, vectors: int) -> None: ...
    def reserve_namespaces(self, namespaces: Sequence[Sequence[str]], counts: Sequence[int]) -> None: ...
    def huge_pages(self, collapse: bool) -> bool: ...
    def upsert(self, row_id: int, namespace: Sequence[str], records: bytes) -> None: ...
    def upsert_many(
        self, row_ids: _I64, namespace_ids: _U32, namespaces: Sequence[Sequence[str]], records: bytes | _U8
    ) -> None: ...
    def delete(self, row_id: int) -> bool: ...
    def candidates(
        self,
        query: _F32,
        k: int,
        namespace_prefix: Sequence[str],
        candidate_ids: _I64 | None,
        metric: Literal["cosine", "inner_product"],
    ) -> tuple[bytes, dict[str, float]]:
        """The rows that may hold a top-k vector (little-endian int64 bytes, ascending) and
        {"selected", "survivors", "threshold"} (every other row scores below the threshold); runs
        without the GIL."""
    def bounded_candidates(
        self,
        query: _F32,
        k: int,
        namespace_prefix: Sequence[str],
        candidate_ids: _I64 | None,
        metric: Literal["cosine", "inner_product"],
    ) -> tuple[bytes, bytes, dict[str, float]]:
        """`candidates` best bound first, with an upper bound of each row's score (little-endian
        int64 and float64 bytes)."""
