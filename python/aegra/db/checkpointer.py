"""LangGraph's checkpointer on the configured database.

SQLite: `AsyncSqliteSaver` on a connection that runs statements inline (db/inline_sqlite.py)
rather than on an aiosqlite thread, which took about 30 thread round trips per run. The server's
saver shares the connection of the server's own statements (db/statements.py), and takes it in the
same turns (db/group_commit.py, whose COMMITs cover several turns' writes): after another
connection writes, SQLite starts a connection's next transaction with an empty page cache, and
the runs' statements and the checkpoints, written in turn, paid that each time (~0.1 ms a run).
Other users (CLI, benchmarks) get a connection of their own.
PostgreSQL: `AsyncPostgresSaver` over a psycopg pool;
its `setup()` runs under an advisory lock so that workers starting together don't race
through the checkpoint tables' migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from aegra.config import DatabaseSettings
from aegra.db.engine import Database, sqlite_pragmas
from aegra.db.group_commit import one_write_turns
from aegra.db.inline_sqlite import InlineConnection
from aegra.db.postgres_pool import CHECKPOINTER_SETUP_LOCK_KEY, advisory_lock, psycopg_pool, session_connection
from aegra.db.sqlite_turns import SqliteTurns


@asynccontextmanager
async def open_checkpointer(
    settings: DatabaseSettings, *, database: Database | None = None
) -> AsyncIterator[BaseCheckpointSaver]:
    """`database`: on SQLite, share its hot-path connection instead of opening one."""
    shared = database.shared_sqlite if database is not None else None
    if shared is not None:
        async with _shared_sqlite_checkpointer(shared) as saver:
            yield saver
    elif settings.backend == "sqlite":
        async with _sqlite_checkpointer(settings) as saver:
            yield saver
    else:
        async with _postgres_checkpointer(settings) as saver:
            yield saver


@asynccontextmanager
async def _shared_sqlite_checkpointer(shared: SqliteTurns) -> AsyncIterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    class SharedConnectionSaver(AsyncSqliteSaver):
        async def aput(self, *args: Any, **kwargs: Any) -> Any:
            # One INSERT OR REPLACE: its turn needs no savepoint in an open group. (Were a new
            # LangGraph to write twice here, the turn would fail, and the tests with it.)
            with one_write_turns():
                return await super().aput(*args, **kwargs)

    saver = SharedConnectionSaver(shared.connection)  # type: ignore[arg-type]  # duck-typed aiosqlite connection
    saver.lock = shared.turns  # type: ignore[assignment]  # the connection's turns: its transactions never interleave
    await saver.setup()
    yield saver  # the connection is the database's, closed with it


@asynccontextmanager
async def _sqlite_checkpointer(settings: DatabaseSettings) -> AsyncIterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    assert settings.sqlite_path is not None
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE: the saver relies on the sqlite3 module's implicit transactions; their BEGIN then
    # takes the write lock, and is what waits (and is retried) when the database is busy.
    conn = InlineConnection.open(
        settings.sqlite_path,
        busy_timeout_ms=settings.busy_timeout_ms,
        pragmas=sqlite_pragmas(settings.busy_timeout_ms),
        isolation_level="IMMEDIATE",
    )
    try:
        saver = AsyncSqliteSaver(conn)  # type: ignore[arg-type]  # duck-typed aiosqlite connection
        await saver.setup()
        yield saver
    finally:
        await conn.close()


class _SerializeInline:
    """Stands in for `asyncio` inside LangGraph's PostgreSQL saver module, whose `aput`,
    `aput_writes` and checkpoint loading send each (de)serialization to a thread
    (`asyncio.to_thread`): five or six thread round trips a run, each costing more CPU than the
    serialization of a small state. Here it runs in place, as the SQLite saver does it; everything
    else is asyncio's own."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def to_thread(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)


@asynccontextmanager
async def _postgres_checkpointer(settings: DatabaseSettings) -> AsyncIterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.postgres import aio
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    aio.asyncio = _SerializeInline()  # type: ignore[assignment]
    async with psycopg_pool(settings) as pool:
        async with session_connection(settings) as conn, advisory_lock(conn, CHECKPOINTER_SETUP_LOCK_KEY):
            await AsyncPostgresSaver(conn).setup()  # type: ignore[arg-type]
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        # Its lock, taken around every call, serializes the calls of all of a process's runs for a
        # single connection's sake; over a pool each call takes a connection of its own (LangGraph's
        # PostgreSQL store skips its lock for a pool for that reason). With the lock, runs waited
        # on each other's round trips: at 1 ms to PostgreSQL, 8 clients got 25 runs/s with it and
        # 45 without (benches/delay_proxy.py, docs/scaling.md).
        saver.lock = contextlib.nullcontext()  # type: ignore[assignment]
        yield saver
