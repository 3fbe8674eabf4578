"""LangGraph's checkpointer on the configured database.

SQLite: `AsyncSqliteSaver` on its own aiosqlite connection to the same `.db` file as the
API tables, with the same pragmas. PostgreSQL: `AsyncPostgresSaver` over a psycopg pool;
its `setup()` runs under an advisory lock so that workers starting together don't race
through the checkpoint tables' migrations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from aegra.config import DatabaseSettings
from aegra.db.engine import sqlite_pragmas

# Another arbitrary advisory-lock key, distinct from the schema migration's.
CHECKPOINTER_SETUP_LOCK_KEY = 0x4AE62B


@asynccontextmanager
async def open_checkpointer(settings: DatabaseSettings) -> AsyncIterator[BaseCheckpointSaver]:
    if settings.backend == "sqlite":
        async with _sqlite_checkpointer(settings) as saver:
            yield saver
    else:
        async with _postgres_checkpointer(settings) as saver:
            yield saver


@asynccontextmanager
async def _sqlite_checkpointer(settings: DatabaseSettings) -> AsyncIterator[BaseCheckpointSaver]:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    assert settings.sqlite_path is not None
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(settings.sqlite_path, timeout=settings.busy_timeout_ms / 1000)
    try:
        for pragma in sqlite_pragmas(settings.busy_timeout_ms):
            await conn.execute(pragma)
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()


@asynccontextmanager
async def _postgres_checkpointer(settings: DatabaseSettings) -> AsyncIterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    assert settings.postgres_url is not None
    pool = AsyncConnectionPool(
        settings.postgres_url,
        min_size=1,
        max_size=max(settings.pool_size, 2),
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (CHECKPOINTER_SETUP_LOCK_KEY,))
            try:
                await AsyncPostgresSaver(conn).setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (CHECKPOINTER_SETUP_LOCK_KEY,))
        yield AsyncPostgresSaver(pool)
    finally:
        await pool.close()
