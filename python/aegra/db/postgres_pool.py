"""psycopg pools for LangGraph's PostgreSQL checkpointer and store, and the advisory lock their
`setup()` runs under, so that workers starting together don't race through the same migrations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aegra.config import DatabaseSettings

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

# Arbitrary advisory-lock keys, one per thing that migrates (the schema's is in db/migrate.py).
CHECKPOINTER_SETUP_LOCK_KEY = 0x4AE62B
STORE_SETUP_LOCK_KEY = 0x4AE62C


@asynccontextmanager
async def psycopg_pool(settings: DatabaseSettings) -> AsyncIterator[AsyncConnectionPool]:
    """A pool for LangGraph's PostgreSQL saver or store (`_connection_options`)."""
    from psycopg_pool import AsyncConnectionPool

    assert settings.postgres_url is not None
    pool = AsyncConnectionPool(
        settings.postgres_url,
        min_size=1,
        max_size=max(settings.pool_size, 2),
        kwargs=_connection_options(settings),
        open=False,
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def session_connection(settings: DatabaseSettings) -> AsyncIterator[AsyncConnection]:
    """A connection of its own to PostgreSQL itself (past any pooler: `DATABASE_DIRECT_URL`), for
    the `setup()` of LangGraph's saver or of the store: migrations under a session's advisory lock."""
    from psycopg import AsyncConnection

    async with await AsyncConnection.connect(settings.session_url, **_connection_options(settings)) as conn:
        yield conn


def _connection_options(settings: DatabaseSettings) -> dict[str, Any]:
    """The connection settings LangGraph's PostgreSQL savers and stores expect (autocommit, dict
    rows). Statements are prepared at once (`prepare_threshold` 0), not after five runs on a
    connection, unless a pooler cannot keep them (None: never)."""
    from psycopg.rows import dict_row

    prepare_threshold = 0 if settings.prepared_statements else None
    return {"autocommit": True, "prepare_threshold": prepare_threshold, "row_factory": dict_row}


# How often a process waiting for another's setup tries the lock again.
LOCK_RETRY_SECONDS = 0.1


@asynccontextmanager
async def advisory_lock(conn: AsyncConnection, key: int) -> AsyncIterator[None]:
    """Hold a session advisory lock for the block. Taken by polling `pg_try_advisory_lock`, not by
    waiting in `pg_advisory_lock`: a waiter's open transaction would hold up the holder's
    `CREATE INDEX CONCURRENTLY` (LangGraph's migrations), which waits for every transaction to
    end, while the waiter waits for the holder: a deadlock when workers start together."""
    while True:
        # The pools here give dict rows (`psycopg_pool`).
        row: Any = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (key,))).fetchone()
        if row and row["locked"]:
            break
        await asyncio.sleep(LOCK_RETRY_SECONDS)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
