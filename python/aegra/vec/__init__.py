"""The one vector API the store calls.

Behind it sits the Rust extension `aegra._vec` (crates/aegra-vec) when it is importable,
and a pure-Python (numpy) implementation otherwise, or when `AEGRA_VEC=python` asks
for it. Both must return the same results; callers never import `aegra._vec` directly.

- field paths: `get_text_at_path`, `tokenize_path` (LangGraph's rules, identical output);
- embedder batching: `plan_texts` (texts of a batch of puts, each distinct text once),
  `length_batches`, `embed_in_batches` / `aembed_in_batches`, `dedupe_texts`;
- BLOBs for sqlite-vec: `pack_vectors`, `pack_vector`, `normalize`, `unpack_vector`, `unpack_matrix`;
- KNN: `VectorIndex` (int8 codes in memory, `encode_codes` records), `exact_top_k`;
- the value index's selections: `positions_of` (where a byte array holds a value).
"""

from __future__ import annotations

import logging
from typing import Any

from aegra import __version__
from aegra.vec._backend import BackendName, using
from aegra.vec._backend import fallback_reason as _fallback_reason
from aegra.vec._backend import native as _native
from aegra.vec.batching import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_BATCH,
    TextPlan,
    aembed_in_batches,
    dedupe_texts,
    embed_in_batches,
    length_batches,
    plan_texts,
)
from aegra.vec.index import METRICS, Metric, VectorIndex, VectorSource, code_record_size, encode_codes, exact_top_k
from aegra.vec.packing import (
    as_matrix,
    blob_size,
    check_embeddings,
    normalize,
    pack_vector,
    pack_vectors,
    unpack_matrix,
    unpack_vector,
)
from aegra.vec.paths import get_text_at_path, tokenize_path
from aegra.vec.positions import positions_of

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_BATCH",
    "METRICS",
    "BackendName",
    "Metric",
    "TextPlan",
    "VectorIndex",
    "VectorSource",
    "aembed_in_batches",
    "announce",
    "as_matrix",
    "backend",
    "blob_size",
    "build_info",
    "check_embeddings",
    "code_record_size",
    "dedupe_texts",
    "embed_in_batches",
    "encode_codes",
    "exact_top_k",
    "get_text_at_path",
    "length_batches",
    "normalize",
    "pack_vector",
    "pack_vectors",
    "plan_texts",
    "positions_of",
    "tokenize_path",
    "unpack_matrix",
    "unpack_vector",
    "using",
]

logger = logging.getLogger(__name__)
_announced = False


def backend() -> str:
    """`rust` or `python`: which implementation serves the vector API in this process."""
    return "rust" if _native is not None else "python"


def announce() -> None:
    """Log, once per process, which implementation runs; called at server start."""
    global _announced
    if _announced:
        return
    _announced = True
    if _native is None:
        logger.warning("vector core: running on the pure-Python path (%s)", _fallback_reason)
    else:
        logger.info("vector core: %s", _native.build_info()["description"])


def build_info() -> dict[str, Any]:
    """What /info reports about the vector core."""
    if _native is None:
        return {"backend": "python", "version": __version__, "reason": _fallback_reason}
    return {"backend": "rust", **_native.build_info()}
