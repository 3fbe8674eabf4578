"""The numpy twin of `aegra._vec`: the same functions and class, the same results and errors.

Used when the extension is missing or `AEGRA_VEC=python`. Field paths are LangGraph's own
functions (pure Python already, and the reference the Rust port is tested against).
"""

from langgraph.store.base.embed import get_text_at_path, tokenize_path

from aegra.vec._python.batching import dedupe_texts, length_batches
from aegra.vec._python.codes import encode_codes
from aegra.vec._python.index import VectorIndex, exact_top_k
from aegra.vec._python.packing import normalize_into, pack_vectors
from aegra.vec._python.positions import positions_of

__all__ = [
    "VectorIndex",
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
