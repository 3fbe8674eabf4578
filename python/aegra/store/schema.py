"""Tables of the SQLite store and how its connection is opened.

They live in the server's one `.db` file beside the metadata and LangGraph's checkpoint tables, so
every name starts with `store_` (and avoids LangGraph's own SqliteStore names, `store` and
`store_vectors`, whose shapes differ).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite

from aegra.db.inline_sqlite import InlineConnection
from aegra.store import filters, sqlite_vec_loader

SCHEMA_VERSION = 1
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS store_items (
        id INTEGER PRIMARY KEY,
        prefix TEXT NOT NULL,          -- namespace labels joined by '.'
        key TEXT NOT NULL,
        value TEXT NOT NULL,           -- JSON object
        created_at TEXT NOT NULL,      -- ISO 8601, UTC, microseconds
        updated_at TEXT NOT NULL,
        expires_at REAL,               -- unix seconds; NULL = never
        ttl_minutes REAL,
        index_spec TEXT,               -- the put's `index` as JSON (null, false or paths), for re-indexing
        UNIQUE (prefix, key)
    )""",
    "CREATE INDEX IF NOT EXISTS store_items_updated ON store_items (updated_at)",
    "CREATE INDEX IF NOT EXISTS store_items_expires ON store_items (expires_at) WHERE expires_at IS NOT NULL",
    # A rowid table (not WITHOUT ROWID): there a 1.5 kB vector fits in the row instead of spilling
    # to overflow pages, which made brute-force scoring about 5x slower.
    """CREATE TABLE IF NOT EXISTS store_item_vectors (
        item_id INTEGER NOT NULL,      -- store_items.id
        field TEXT NOT NULL,           -- field path the text came from, e.g. 'content' or 'tags.1'
        embedding BLOB NOT NULL,       -- float32 little-endian, sqlite-vec's layout
        UNIQUE (item_id, field)
    )""",
    "CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


# Shared by the reader and the writer; NORMAL in WAL mode loses nothing committed when the process dies.
_FILE_PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL")


async def connect(path: str | Path, busy_timeout_ms: int) -> tuple[aiosqlite.Connection, bool]:
    """Open the file for the store; returns the connection and whether `vec_*` SQL works on it."""
    sqlite_vec_loader.ensure_sqlite_vec()  # before connecting: auto-extensions apply to new connections
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the lock up front
    # and waits on busy_timeout instead of failing on a read-to-write upgrade.
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        for pragma in _FILE_PRAGMAS:
            await conn.execute(pragma)
        await conn.create_function(filters.FILTER_FUNCTION, 2, filters.sql_filter, deterministic=True)
        has_vec = await sqlite_vec_loader.prepare_connection(conn)
    except BaseException:
        await conn.close()
        raise
    return conn, has_vec


def connect_writer(path: str | Path, busy_timeout_ms: int) -> InlineConnection:
    """The store's writer: statements inline on the event loop (db/inline_sqlite.py); isolation_level
    None because the writes issue BEGIN IMMEDIATE themselves."""
    return InlineConnection.open(path, busy_timeout_ms=busy_timeout_ms, pragmas=_FILE_PRAGMAS, isolation_level=None)


async def create_tables(conn: aiosqlite.Connection) -> None:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA:
            await conn.execute(statement)
        # Recorded now so that a later release can tell which shape a file has and migrate it.
        await conn.execute(
            "INSERT OR IGNORE INTO store_meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise


async def read_meta(conn: aiosqlite.Connection, name: str) -> str | None:
    async with conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def write_meta(conn: Any, name: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO store_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )
