"""The store the server runs, built from the `store` section of aegra.json / langgraph.json.

SQLite: `AsyncSqliteStore` on the server's `.db` file (items and vectors beside the API tables).
PostgreSQL: LangGraph's `AsyncPostgresStore` (with Aegra's filter semantics, `postgres_store.py`)
over its own psycopg pool; its `setup()` runs under an advisory lock so that workers starting
together don't race through the store's migrations. A semantic index there needs pgvector, checked
before anything is created so that a missing extension is one clear startup error; so is a
`store.index.dims` that differs from the size of the vectors the database already holds.

No embedding model is loaded here: embedders are lazy, and the first put or query that needs one
loads it (a model that is not cached yet is downloaded by the store's background embedder; items
put meanwhile are saved and wait for their vectors, see `backfill.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.store.base import BaseStore, IndexConfig, TTLConfig

from aegra.config_schema import StoreConfig, StoreIndexConfig, StoreTTLConfig
from aegra.db.postgres_pool import STORE_SETUP_LOCK_KEY, advisory_lock, psycopg_pool, session_connection
from aegra.store.embeddings import build_embeddings
from aegra.store.sqlite_store import AsyncSqliteStore

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from aegra.config import DatabaseSettings

PGVECTOR_MISSING = (
    "store.index is configured, but this PostgreSQL server does not have the pgvector extension "
    "(`vector`), which semantic search on PostgreSQL needs. Install pgvector on the database server "
    "(e.g. `apt install postgresql-<version>-pgvector`, or use the `pgvector/pgvector` Docker image; "
    "see https://github.com/pgvector/pgvector#installation), or remove `store.index` from the config "
    "to run the store without semantic search."
)


def index_config(config: StoreIndexConfig, base_dir: Path) -> IndexConfig:
    """LangGraph's index config with the `embed` string turned into a (lazy) embedder."""
    index: IndexConfig = {"dims": config.dims, "embed": build_embeddings(config.embed, config.dims, base_dir=base_dir)}
    if config.fields is not None:
        index["fields"] = list(config.fields)
    return index


def ttl_config(config: StoreTTLConfig) -> TTLConfig:
    ttl: TTLConfig = {"refresh_on_read": config.refresh_on_read}
    if config.default_ttl is not None:
        ttl["default_ttl"] = config.default_ttl
    if config.sweep_interval_minutes is not None:
        ttl["sweep_interval_minutes"] = config.sweep_interval_minutes
    return ttl


def sqlite_store(db_path: str | Path, config: StoreConfig | None, base_dir: Path, **options: Any) -> AsyncSqliteStore:
    """An `AsyncSqliteStore` on the server's database file (call `await store.setup()` to open it);
    `base_dir` is the config file's folder, against which `./file.py:fn` embedders resolve."""
    index = index_config(config.index, base_dir) if config and config.index else None
    ttl = ttl_config(config.ttl) if config and config.ttl else None
    return AsyncSqliteStore(db_path, index=index, ttl=ttl, **options)


@asynccontextmanager
async def open_store(
    database: DatabaseSettings, config: StoreConfig | None, base_dir: Path, *, embed_waiting: bool = True
) -> AsyncIterator[BaseStore]:
    """The server's store, set up, with its TTL sweeper running when `store.ttl` is configured;
    `embed_waiting`: with the background embedder of the items waiting for their vectors (the
    server; not `aegra db export/import`, which would otherwise embed and write as they copy)."""
    opener = _sqlite if database.backend == "sqlite" else _postgres
    async with opener(database, config, base_dir, embed_waiting) as store:
        if config and config.ttl:
            await store.start_ttl_sweeper()  # type: ignore[attr-defined]
        try:
            yield store
        finally:
            if config and config.ttl:
                await store.stop_ttl_sweeper()  # type: ignore[attr-defined]


@asynccontextmanager
async def _sqlite(
    database: DatabaseSettings, config: StoreConfig | None, base_dir: Path, embed_waiting: bool
) -> AsyncIterator[BaseStore]:
    assert database.sqlite_path is not None
    database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = sqlite_store(
        database.sqlite_path,
        config,
        base_dir,
        busy_timeout_ms=database.busy_timeout_ms,
        embed_waiting=embed_waiting,
    )
    await store.setup()
    try:
        yield store
    finally:
        await store.aclose()


@asynccontextmanager
async def _postgres(
    database: DatabaseSettings, config: StoreConfig | None, base_dir: Path, embed_waiting: bool
) -> AsyncIterator[BaseStore]:
    from aegra.store.postgres_store import AegraPostgresStore

    index = index_config(config.index, base_dir) if config and config.index else None
    ttl = ttl_config(config.ttl) if config and config.ttl else None
    async with psycopg_pool(database) as pool:
        async with session_connection(database) as conn:
            if index is not None:
                await _require_pgvector(conn)
            async with advisory_lock(conn, STORE_SETUP_LOCK_KEY):
                migrating = AegraPostgresStore(conn, index=index, ttl=ttl)
                try:
                    await migrating.setup()
                finally:
                    await migrating.stop_batching()
            if index is not None:
                await _require_vector_dims(conn, index["dims"])
        store = AegraPostgresStore(pool, index=index, ttl=ttl)
        if store.backfill is not None and embed_waiting:
            store.backfill.start()  # embeds the items saved while the embedder was unavailable
        try:
            yield store
        finally:
            if store.backfill is not None:
                await store.backfill.stop()


async def _require_pgvector(conn: AsyncConnection[Any]) -> None:
    cursor = await conn.execute("SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'vector'")
    row = await cursor.fetchone()
    if not row or not row["n"]:
        raise RuntimeError(PGVECTOR_MISSING)


async def _require_vector_dims(conn: AsyncConnection[Any], dims: int) -> None:
    """The vector column's size is fixed when the store is first set up: a later `dims` that differs
    would fail every put with a database error, so it stops startup with one clear message."""
    cursor = await conn.execute(
        "SELECT atttypmod AS dims FROM pg_attribute"
        " WHERE attrelid = to_regclass('store_vectors') AND attname = 'embedding'"
    )
    row = await cursor.fetchone()
    if row and row["dims"] > 0 and row["dims"] != dims:
        raise RuntimeError(
            f"store.index.dims is {dims}, but this database's store vectors have {row['dims']} dimensions "
            f"(table store_vectors, made with another embedding model). Set `store.index.dims` back to "
            f"{row['dims']}, or move the data to a fresh database with `aegra db export` / `aegra db import`, "
            "which re-embeds every item with the configured model."
        )
