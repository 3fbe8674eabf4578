"""The server's statements on SQLite: one shared connection, taken in turns, committed in groups.

SQLite admits one writer at a time, and a connection that another one wrote behind starts its
next transaction with an empty page cache; so the server's statements and LangGraph's checkpointer
(db/checkpointer.py) share one connection, inline on the event loop's thread
(db/inline_sqlite.py), and the writes of nearby turns are committed together
(db/group_commit.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Dialect

from aegra.db.group_commit import GroupCommit, TurnConnection, writes_may_lag
from aegra.db.inline_sqlite import InlineConnection
from aegra.db.statements import Compiler, ConstraintViolation, Statement, Statements, typed_rows
from aegra.telemetry import metrics


class _SqliteStatements(Statements):
    dialect = "sqlite"

    def __init__(self, conn: InlineConnection, dialect: Dialect) -> None:
        self._conn = conn
        self._compile = Compiler(dialect)

    async def rows(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled, sql, parameters = self._compile(statement, params or {})
        try:
            cursor = await self._conn.statement(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from exc
        except Exception:
            metrics.statement_error(self.dialect)
            raise
        if cursor.description is None:  # no result set (INSERT, UPDATE without RETURNING...)
            return []
        return typed_rows(compiled, cursor.fetchall())


class SqliteTurns:
    """One inline connection, shared by the process's coroutines in turns, with the writes of
    nearby turns committed together (db/group_commit.py).

    SQLite admits one writer at a time anyway, and these transactions run without yielding to
    the loop (only the BEGIN may wait for the lock), so the turns are no real queue. They are not
    reentrant: never open `read()` or `write()` inside another.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int, pragmas: list[str], dialect: Dialect) -> None:
        # Also the checkpointer's connection (db/checkpointer.py), in the same turns. IMMEDIATE is
        # for LangGraph's saver, which relies on the sqlite3 module's implicit transactions; the
        # blocks here BEGIN explicitly.
        self.connection = TurnConnection.open(
            path, busy_timeout_ms=busy_timeout_ms, pragmas=pragmas, isolation_level="IMMEDIATE"
        )
        self.turns = GroupCommit(self.connection)
        self._statements = _SqliteStatements(self.connection, dialect)

    @property
    def failed_commits(self) -> int:
        """How many group COMMITs have failed so far (their writes were rolled back)."""
        return self.turns.failed_commits

    async def durable(self) -> None:
        await self.turns.durable()

    def writes_may_lag(self, enabled: bool) -> contextlib.AbstractContextManager[None]:
        return writes_may_lag(enabled)

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        yield True  # one process owns the file

    def write(self) -> _Turn:
        """Commits with its group on success (and returns once that is durable), undone on error."""
        return _Turn(self, begin=True)

    def single_statements(self) -> _Turn:
        return self.write()  # a turn: its writes commit with the group

    def read(self) -> _Turn:
        return _Turn(self, begin=False)

    async def close(self) -> None:
        await self.connection.close()


class _Turn:
    """`async with turns.write()` / `read()`: a turn on the shared connection, which a write
    begins with BEGIN IMMEDIATE unless it joins the open group. (A class rather than an
    `asynccontextmanager`: a run takes several turns, and the generator machinery cost more than
    the rest of a turn's bookkeeping.)"""

    __slots__ = ("_begin", "_owner")

    def __init__(self, owner: SqliteTurns, *, begin: bool) -> None:
        self._owner, self._begin = owner, begin

    async def __aenter__(self) -> Statements:
        owner = self._owner
        await owner.turns.__aenter__()
        if self._begin and not owner.connection.in_transaction:
            try:
                await owner.connection.statement("BEGIN IMMEDIATE")
            except BaseException as exc:
                await owner.turns.__aexit__(type(exc), exc, exc.__traceback__)
                raise
        return owner._statements

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self._owner.turns.__aexit__(exc_type, exc, tb)
