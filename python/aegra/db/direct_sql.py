"""The runs' hot-path statements, compiled once by SQLAlchemy and run on the driver's connection.

A run's creation, end and claim are a handful of small statements. Through SQLAlchemy's session
each one costs 100-200 us of Python (execution context, events, result objects, the greenlet
bridge, a pool checkout per transaction) against the few microseconds SQLite needs to run it.
Measured here, a run's two transactions (create, settle) cost 1.46 ms of CPU through the ORM
session, 1.09 ms through a Core connection and 0.09 ms on a bare connection.

So these statements are still written as SQLAlchemy Core and compiled by SQLAlchemy, once per
dialect, with its own bind and result processors (ids, datetimes and JSON are stored and read
exactly as through the ORM), but on SQLite they run on one connection (`SqliteDirect`, which
LangGraph's checkpointer shares), inline on the event loop's thread (db/inline_sqlite.py).
On PostgreSQL, where the network round trip dominates, `EngineDirect` runs the same statements
through SQLAlchemy Core. Callers see one interface either way: rows with attribute access.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from aegra.db.group_commit import GroupCommit, TurnConnection
from aegra.db.inline_sqlite import InlineConnection

_REQUIRED = object()


class _Compiled:
    """One statement for one dialect: its SQL, where each parameter goes, how values convert.

    Uses two private parts of SQLAlchemy's compiler (`_bind_processors`, and
    `_process_parameters_for_postcompile` for expanding IN lists); tests/integration/
    test_direct_sql.py checks rows written and read this way against the ORM on both backends.
    """

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        required = {name for name, bind in compiled.binds.items() if bind.required}
        # Expanding parameters (`IN` over a constant list) become one placeholder per item here.
        defaults = compiled.construct_params({name: None for name in required}, _check=False)
        expanded = compiled._process_parameters_for_postcompile(defaults)
        processors = {**compiled._bind_processors, **expanded.processors}
        self.sql: str = expanded.statement
        self.binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = [
            (name, _REQUIRED if name in required else expanded.parameters[name], processors.get(name))
            for name in expanded.positiontup or ()
        ]
        columns = compiled._result_columns
        self.results = [column.type._cached_result_processor(dialect, None) for column in columns]
        self.row = collections.namedtuple("Row", [column.keyname for column in columns], rename=True)  # type: ignore[misc]

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in self.binds:
            value = values.get(name, default)
            if value is _REQUIRED:
                raise KeyError(f"no value for the parameter {name!r} of: {self.sql}")
            # None is SQL NULL for every type (SQLAlchemy's JSON would store a JSON `null`).
            out.append(value if process is None or value is None else process(value))
        return out

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        results, row = self.results, self.row
        return [row(*[v if p is None else p(v) for p, v in zip(results, values, strict=True)]) for values in raw]


class Prepared:
    """A Core statement, compiled on first use for each dialect (module constants, as a rule;
    one built per request is compiled per request)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return found


def select_rows(model: type) -> Any:
    """SELECT of the model's columns labelled with its attribute names (`metadata_`), so that a
    row reads like the ORM object where code only reads attributes."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    return select(*(prop.columns[0].label(prop.key) for prop in mapper.column_attrs))


class FullInsert:
    """INSERT of a new row. Columns not given take their Python-side defaults (`default=`), filled
    in here because SQLAlchemy applies those at execution, which this path skips; the rest are
    NULL. Keys that are not columns are ignored."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.prepared = Prepared(insert(table))
        self._columns = [(column.name, column.default) for column in table.columns]

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        values = {}
        for name, default in self._columns:
            value = given.get(name)
            if value is None and default is not None:
                value = default.arg(None) if default.is_callable else default.arg  # type: ignore[attr-defined]
            values[name] = value
        return values


def row_values(row: Any) -> dict[str, Any]:
    """An ORM object's values by column name (`metadata_` is `metadata`), for a `FullInsert`."""
    return {prop.columns[0].name: getattr(row, prop.key) for prop in type(row).__mapper__.column_attrs}


class Statements:
    """What a `write()` or `read()` block runs its statements with."""

    async def rows(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> list[Any]:
        raise NotImplementedError

    async def first(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Any | None:
        rows = await self.rows(prepared, params)
        return rows[0] if rows else None

    async def scalar(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Any:
        row = await self.first(prepared, params)
        return None if row is None else row[0]

    async def execute(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> None:
        await self.rows(prepared, params)

    async def insert(self, full: FullInsert, values: Mapping[str, Any]) -> None:
        await self.execute(full.prepared, full.values(values))


class _SqliteStatements(Statements):
    def __init__(self, conn: InlineConnection, dialect: Dialect) -> None:
        self._conn, self._dialect = conn, dialect

    async def rows(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled = prepared.compiled(self._dialect)
        parameters = compiled.parameters(params or {})
        try:
            cursor = await self._conn.statement(compiled.sql, parameters)
        except sqlite3.IntegrityError as exc:  # as SQLAlchemy raises it on PostgreSQL
            raise IntegrityError(compiled.sql, parameters, exc) from exc
        if cursor.description is None:  # no result set (INSERT, UPDATE without RETURNING...)
            return []
        raw = cursor.fetchall()
        # Textual SQL has no typed columns: its rows come back as SQLite gives them.
        return compiled.rows(raw) if compiled.results else raw


class _EngineStatements(Statements):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def rows(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> list[Any]:
        result = await self._conn.execute(prepared.statement, dict(params or {}))
        return list(result.all()) if result.returns_rows else []

    async def insert(self, full: FullInsert, values: Mapping[str, Any]) -> None:
        # Columns left out are NULL, as on SQLite (an explicit None would be a JSON `null`).
        given = {name: value for name, value in full.values(values).items() if value is not None}
        await self._conn.execute(insert(full.table), given)


class DirectSQL(Protocol):
    def write(self) -> Any:
        """`async with direct.write() as sql:` a transaction that may write; commits on success."""

    def read(self) -> Any:
        """`async with direct.read() as sql:` reads outside a write transaction."""

    @property
    def failed_commits(self) -> int:
        """A count that changes when writes that no one waited for were lost (a run checks it)."""

    async def durable(self) -> None:
        """Return once every write made so far through this object is committed, so that other
        connections see it (a write of another turn may still be in SQLite's open group)."""

    async def close(self) -> None: ...


class SqliteDirect:
    """One inline connection for the hot path, shared by the process's coroutines in turns, with
    the writes of nearby turns committed together (db/group_commit.py).

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

    def write(self) -> _Turn:
        """Commits with its group on success (and returns once that is durable), undone on error."""
        return _Turn(self, begin=True)

    def read(self) -> _Turn:
        return _Turn(self, begin=False)

    async def close(self) -> None:
        await self.connection.close()


class _Turn:
    """`async with direct.write()` / `read()` on SQLite: a turn on the shared connection, which a
    write begins with BEGIN IMMEDIATE unless it joins the open group. (A class rather than an
    `asynccontextmanager`: a run takes several turns, and the generator machinery cost more than
    the rest of a turn's bookkeeping.)"""

    __slots__ = ("_begin", "_direct")

    def __init__(self, direct: SqliteDirect, *, begin: bool) -> None:
        self._direct, self._begin = direct, begin

    async def __aenter__(self) -> Statements:
        direct = self._direct
        await direct.turns.__aenter__()
        if self._begin and not direct.connection.in_transaction:
            try:
                await direct.connection.statement("BEGIN IMMEDIATE")
            except BaseException as exc:
                await direct.turns.__aexit__(type(exc), exc, exc.__traceback__)
                raise
        return direct._statements

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self._direct.turns.__aexit__(exc_type, exc, tb)


class EngineDirect:
    """The same statements through SQLAlchemy Core (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, read_engine: AsyncEngine) -> None:
        self._engine, self._read_engine = engine, read_engine

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Statements]:
        async with self._engine.begin() as conn:
            yield _EngineStatements(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Statements]:
        async with self._read_engine.connect() as conn:
            yield _EngineStatements(conn)

    @property
    def failed_commits(self) -> int:
        return 0  # each transaction commits on its own, and its writer sees its errors

    async def durable(self) -> None:
        return None  # each write block commits before it returns

    async def close(self) -> None:
        return None
