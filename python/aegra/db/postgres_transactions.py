"""The server's statements on PostgreSQL: an asyncpg pool, statements compiled by SQLAlchemy.

SQLAlchemy's asyncpg adapter costs each statement a greenlet switch, a cursor adaptation and an
execution context on top of asyncpg; here the statement compiled for SQLAlchemy's asyncpg
dialect (with its bind casts and processors, db/statements.py) goes straight to asyncpg, which
prepares it once per connection and caches it. The JSON codecs are the ones SQLAlchemy installs
on its own asyncpg connections, so values read and written here match the ORM's exactly.

Behind a pooler in transaction mode (PgBouncer before 1.21), a statement prepared on one of its
server connections may be executed on another: `DB_PREPARED_STATEMENTS=false` turns asyncpg's
cache of them off (`statement_cache_size=0`: each statement is parsed where it runs). Nothing
here keeps session state across transactions either (`exclusive` locks within one).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect

from aegra.db.outages import ASYNCPG_CONNECTION_ERRORS
from aegra.db.statements import Compiler, ConstraintViolation, Statement, Statements, typed_rows
from aegra.errors import Unavailable
from aegra.telemetry import metrics


@contextlib.asynccontextmanager
async def _unavailable_when_unreachable() -> AsyncIterator[None]:
    try:
        yield
    except ASYNCPG_CONNECTION_ERRORS as exc:  # asyncpg's pool replaces broken connections by itself
        raise Unavailable(f"The database cannot be reached; try again shortly ({type(exc).__name__})") from exc


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """asyncpg resets a connection it takes back (`pg_advisory_unlock_all()`, `RESET ALL`...): one
    round trip per transaction, for session state these connections never keep (`exclusive`'s lock
    ends with its transaction; nothing here LISTENs or SETs)."""


class _AsyncpgStatements(Statements):
    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection, compile: Compiler) -> None:
        self._conn, self._compile = conn, compile

    async def rows(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled, sql, parameters = self._compile(statement, params or {})
        try:
            raw = await self._conn.fetch(sql, *parameters)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ConstraintViolation(str(exc)) from exc
        except Exception:
            metrics.statement_error(self.dialect)
            raise
        return typed_rows(compiled, raw)


class PostgresTransactions:
    """Transactions on a pool of asyncpg connections (`open()` before use)."""

    def __init__(self, url: str, dialect: Dialect, *, min_size: int = 0, max_size: int = 10,
                 prepared_statements: bool = True) -> None:  # fmt: skip
        """`min_size` 0: no connection is made before one is needed (nor does opening fail)."""
        self._url, self._dialect = url, dialect
        self._min_size, self._max_size = min_size, max_size
        self._statement_cache_size = 100 if prepared_statements else 0  # 100: asyncpg's default
        self._compile = Compiler(dialect)
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._url, min_size=self._min_size, max_size=self._max_size, init=self._set_codecs, reset=_keep_session,
            statement_cache_size=self._statement_cache_size,
        )  # fmt: skip

    async def _set_codecs(self, conn: asyncpg.Connection) -> None:
        # SQLAlchemy's own codec setup for its asyncpg connections, given the bare connection.
        adapted = SimpleNamespace(_connection=conn)
        await self._dialect.setup_asyncpg_json_codec(adapted)  # type: ignore[attr-defined]
        await self._dialect.setup_asyncpg_jsonb_codec(adapted)  # type: ignore[attr-defined]

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the PostgreSQL pool is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, counted while it is awaited and while it is held (the metrics)."""
        metrics.pool_waiting(1)
        try:
            conn = await self.pool.acquire()
        finally:
            metrics.pool_waiting(-1)
        metrics.pool_in_use(1)
        try:
            yield conn
        finally:
            metrics.pool_in_use(-1)
            await self.pool.release(conn)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Statements]:
        async with _unavailable_when_unreachable(), self._connection() as conn, conn.transaction():
            yield _AsyncpgStatements(conn, self._compile)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Statements]:
        async with _unavailable_when_unreachable(), self._connection() as conn:
            yield _AsyncpgStatements(conn, self._compile)

    def single_statements(self) -> contextlib.AbstractAsyncContextManager[Statements]:
        """No transaction: each statement commits on its own (no BEGIN and COMMIT round trips)."""
        return self.read()

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """Whether this process is the one doing `name` now: an advisory lock taken in a transaction
        on a connection of its own, held for the block and released as the transaction ends
        (False: another process holds it). A transaction's lock, not a session's: behind a pooler
        in transaction mode, a session's unlock could reach another server connection than its
        lock and leave it held there. The transaction writes nothing, so it holds back no vacuum."""
        async with _unavailable_when_unreachable(), self._connection() as conn, conn.transaction():
            yield bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", name))

    @property
    def failed_commits(self) -> int:
        return 0  # each transaction commits on its own, and its writer sees its errors

    async def durable(self) -> None:
        return None  # each write block commits before it returns

    def writes_may_lag(self, enabled: bool) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # every write block commits before it returns

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
