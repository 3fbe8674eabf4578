"""LangGraph's long-term memory store for Aegra: `AsyncSqliteStore` (items and sqlite-vec vectors in
the server's SQLite file) and the embedders named by `store.index.embed`.

Where things are:
- `sqlite_store.py`   the store: batching, semantic search, writes, TTL;
- `sqlite_reads.py`   gets and listings: which connection answers them, which index a listing reads;
- `sqlite_put_vectors.py` what a batch of puts is written with (its texts' vectors, code records);
- `sqlite_tables.py`  its tables and their reads; `sqlite_writes.py` the writes (puts, deletes,
                      TTLs, waiting items); `sqlite_codes.py` what the index loads from: the store's
                      SQL; `sqlite_connections.py` how the file is opened (an aiosqlite reader, an
                      inline writer, a bounded inline reader);
- `sqlite_vec_loader.py` how sqlite-vec reaches every connection without a second libsqlite3;
- `namespaces.py`, `filters.py` the namespace and filter rules of LangGraph's InMemoryStore;
- `vector_cache.py`   semantic search on the vector core (`aegra.vec`, Rust or its numpy twin): the
                      index of int8 codes, loaded in the background, exact scores from the file's
                      float32 vectors (docs/store.md says why); `vector_loading.py` its load
                      from the file's code records (`sqlite_codes.py`);
- `backfill.py`       the background embedder of the items saved while the embedder was
                      unavailable (`sqlite_backfill.py`: the SQLite store's side of it);
- `embeddings.py`     `fastembed:` / `openai:` / user-function embedders; `factory.py` opens the
                      server's store (SQLite or PostgreSQL) from the config file's `store` section;
- `postgres_store.py` LangGraph's PostgreSQL store with the same filter semantics as ours.
"""

from aegra.store.embeddings import (
    EmbeddingConfigError,
    EmbeddingUnavailableError,
    FastEmbedEmbeddings,
    build_embeddings,
)
from aegra.store.factory import sqlite_store
from aegra.store.sqlite_store import AsyncSqliteStore
from aegra.store.sqlite_vec_loader import VecStatus, ensure_sqlite_vec

__all__ = [
    "AsyncSqliteStore",
    "EmbeddingConfigError",
    "EmbeddingUnavailableError",
    "FastEmbedEmbeddings",
    "VecStatus",
    "build_embeddings",
    "ensure_sqlite_vec",
    "sqlite_store",
]
