"""SQLite connections that run each statement on the calling thread instead of a worker thread.

aiosqlite sends every call (cursor, execute, fetch, close, commit) to a thread of its own and
back: measured here, one such round trip costs 50-80 us of CPU, while a typical statement of
ours takes 1-20 us. A run made about 70 of them, so the thread hops, not SQLite, were most of
the server's cost per run. `InlineConnection` offers the part of aiosqlite's interface that
SQLAlchemy's aiosqlite dialect and LangGraph's `AsyncSqliteSaver` use, and runs each call at
once on the event loop's thread.

Waiting for the write lock is the one thing that must not block the loop: a connection of
this process that holds the lock may need the loop to get to its COMMIT. So these connections
have `busy_timeout=0`, and a statement that would start a write transaction and finds the
database locked is retried after an `asyncio.sleep`, until the configured busy timeout has
passed. Only statements outside a transaction are retried (the `BEGIN IMMEDIATE` that
SQLAlchemy's writers and the checkpointer start with): SQLITE_BUSY inside an open transaction
cannot be fixed by retrying the statement, so it is raised as is. Readers in WAL mode do not
wait for writers.

The price: a slow query (a search over a huge table without an index) holds the loop for its
duration, where aiosqlite would have held only its thread. The store, whose vector and
full-table work can be long, keeps aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, Literal, Self, TypeVar

T = TypeVar("T")
IsolationLevel = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"] | None

_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_FIRST_RETRY_SECONDS = 0.0005
_MAX_RETRY_SECONDS = 0.02


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "database is locked" in str(exc)


class _Pending(Generic[T]):
    """What aiosqlite's `execute()`/`cursor()` return: awaitable, and an async context manager."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._value: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._make().__await__()

    async def __aenter__(self) -> T:
        self._value = await self._make()
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self._value, "close", None)
        if close is not None:
            await close()


class _TxQueue:
    """SQLAlchemy's dialect sets `isolation_level` by queueing a function on aiosqlite's private
    `_tx` queue and awaiting the future; here the function runs at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineCursor:
    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        args = (sql,) if parameters is None else (sql, parameters)
        await self._connection._run(self._cursor.execute, *args)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        # A generator cannot be replayed after a retry.
        rows = parameters if isinstance(parameters, list | tuple) else list(parameters)
        await self._connection._run(self._cursor.executemany, sql, rows)
        return self

    async def executescript(self, script: str) -> InlineCursor:
        await self._connection._run(self._cursor.executescript, script)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """An aiosqlite-compatible connection whose calls run on the calling thread (see module doc)."""

    # How many statements of this process are waiting for the write lock, over all connections.
    # The shared connection's group commit (db/group_commit.py) stops holding its transaction
    # open across turns while anyone waits.
    writers_waiting = 0

    def __init__(self, conn: sqlite3.Connection, busy_timeout_seconds: float) -> None:
        self._conn = conn  # the name SQLAlchemy's dialect reaches for
        self._tx = _TxQueue()
        self._busy_timeout = busy_timeout_seconds

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout_ms: int, pragmas: Sequence[str] = (),
             isolation_level: IsolationLevel = None) -> Self:  # fmt: skip
        """`isolation_level`: None for SQLAlchemy (it sends BEGIN itself); "IMMEDIATE" for callers
        that rely on the sqlite3 module's implicit transactions, so that their first write takes
        the lock in a BEGIN that can be retried."""
        conn = sqlite3.connect(str(path), isolation_level=isolation_level, check_same_thread=False)
        for pragma in pragmas:
            conn.execute(pragma)
        conn.execute("PRAGMA busy_timeout=0")  # waiting happens in `_run`, off the loop's back
        return cls(conn, busy_timeout_ms / 1000)

    def _before_statement(self, sql: str) -> None:
        """Called before each statement runs (the shared connection's group commit steps in here)."""

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if args and isinstance(args[0], str):
            self._before_statement(args[0])
        retryable = not self._conn.in_transaction
        try:
            return function(*args)
        except sqlite3.OperationalError as exc:
            if not retryable or not _is_busy(exc):
                raise
        return await self._retry(function, args)

    async def _retry(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Retry a statement that found the database locked, until the busy timeout has passed."""
        deadline = time.monotonic() + self._busy_timeout
        delay = _FIRST_RETRY_SECONDS
        InlineConnection.writers_waiting += 1
        try:
            while True:
                if time.monotonic() >= deadline:
                    return function(*args)  # the last try: its error is the caller's
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_SECONDS)
                try:
                    return function(*args)
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
        finally:
            InlineConnection.writers_waiting -= 1

    async def statement(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement on a new cursor, which is returned to read the rows from: the short
        way for callers of our own, without the awaitables of aiosqlite's interface."""
        cursor = self._conn.cursor()
        await self._run(cursor.execute, sql, parameters)
        return cursor

    # -- aiosqlite's interface --------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        # `await aiosqlite.connect(...)` starts the thread; here the connection is ready.
        async def ready() -> InlineConnection:
            return self

        return ready().__await__()

    async def __aenter__(self) -> InlineConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def is_alive(self) -> bool:
        return True

    def cursor(self) -> _Pending[InlineCursor]:
        async def make() -> InlineCursor:
            return InlineCursor(self, self._conn.cursor())

        return _Pending(make)

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> _Pending[InlineCursor]:
        async def make() -> InlineCursor:
            return await InlineCursor(self, self._conn.cursor()).execute(sql, parameters)

        return _Pending(make)

    def executemany(self, sql: str, parameters: Iterable[Any]) -> _Pending[InlineCursor]:
        async def make() -> InlineCursor:
            return await InlineCursor(self, self._conn.cursor()).executemany(sql, parameters)

        return _Pending(make)

    def executescript(self, script: str) -> _Pending[InlineCursor]:
        async def make() -> InlineCursor:
            return await InlineCursor(self, self._conn.cursor()).executescript(script)

        return _Pending(make)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        """SQLAlchemy's forced close (pool terminate)."""
        self._conn.close()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any],
                              deterministic: bool = False) -> None:  # fmt: skip
        self._conn.create_function(name, num_params, func, deterministic=deterministic)

    @property
    def isolation_level(self) -> IsolationLevel:
        return self._conn.isolation_level  # what was set

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel) -> None:
        self._conn.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction
