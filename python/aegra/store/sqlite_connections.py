"""How the SQLite store opens its file: an aiosqlite reader (long scans stay off the event loop)
and an inline writer (`db/inline_sqlite.py`: a put made about seven aiosqlite thread round trips
per item, each costing more than its statement). The tables and their SQL: `sqlite_tables.py`.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from aegra.db.inline_sqlite import InlineConnection
from aegra.store import filters, sqlite_vec_loader

# Shared by the reader and the writer; NORMAL in WAL mode loses nothing committed when the process dies.
_FILE_PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL")


async def connect(path: str | Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    """The store's reader (and, for `:memory:`, its writer too)."""
    # sqlite-vec on every connection: the store's vectors are in its BLOB layout, so `vec_*` SQL works
    # on them (the store itself scores in `aegra.vec`). Before connecting: auto-extensions apply to
    # new connections.
    sqlite_vec_loader.ensure_sqlite_vec()
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
        await sqlite_vec_loader.prepare_connection(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


def connect_writer(path: str | Path, busy_timeout_ms: int) -> InlineConnection:
    """The store's writer: statements inline on the event loop; isolation_level None because the
    writes issue BEGIN IMMEDIATE themselves."""
    return InlineConnection.open(path, busy_timeout_ms=busy_timeout_ms, pragmas=_FILE_PRAGMAS, isolation_level=None)
