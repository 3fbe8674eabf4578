"""How every statement on the API's tables runs: compiled by SQLAlchemy, executed on the driver.

The tables' SQL lives in db/tables/ (one module per table); it is written as SQLAlchemy Core and
runs inside `async with db.write() as sql:` or `db.read()` (db/engine.py), through the
`Statements` here. There is no ORM session in the server: a unit of work is a handful of small
statements, and through the session each one cost 100-200 us of Python (execution context,
events, result objects, the greenlet bridge, a pool checkout per transaction) against the few
microseconds SQLite needs to run it. Measured here, a run's two transactions (create, settle)
cost 1.46 ms of CPU through the ORM session, 1.09 ms through a Core connection and 0.09 ms on a
bare connection.

So statements are compiled by SQLAlchemy, once per dialect, with its own bind and result
processors (ids, datetimes and JSON are stored and read exactly as through the ORM), and on
SQLite they run on one connection (`SqliteDirect`, which LangGraph's checkpointer shares),
inline on the event loop's thread (db/inline_sqlite.py). Statements that never change are
module constants (`Prepared`, compiled on first use); statements built per request (searches,
auth filters) go through SQLAlchemy's compiled cache, keyed by their shape. On PostgreSQL,
where the network round trip dominates, `EngineDirect` runs the same statements through
SQLAlchemy Core. Callers see one interface either way: rows with attribute access, named after
the table's columns (`row.metadata`).

Python-side column defaults are applied by `FullInsert`; updates set every column they mean to
change (`updated_at` included): the models have no `onupdate`, so both backends write the same.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable
from sqlalchemy.util import LRUCache

from aegra.db.group_commit import GroupCommit, TurnConnection, writes_may_lag
from aegra.db.inline_sqlite import InlineConnection

_REQUIRED = object()


class ConstraintViolation(Exception):
    """A write broke a key or foreign-key constraint (a duplicate id, a row deleted meanwhile).
    The transaction it happened in is spoiled: let it roll back, then decide."""


def _row_type(columns: Sequence[Any]) -> type:
    return collections.namedtuple("Row", [column.keyname for column in columns], rename=True)  # type: ignore[misc]


class _Compiled:
    """One constant statement for one dialect: its SQL, where each parameter goes, how values convert.

    Uses two private parts of SQLAlchemy's compiler (`_bind_processors`, and
    `_process_parameters_for_postcompile` for expanding IN lists); tests/integration/
    test_statements.py checks rows written and read this way against the ORM on both backends.
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
        self.row = _row_type(columns)

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in self.binds:
            value = values.get(name, default)
            if value is _REQUIRED:
                raise KeyError(f"no value for the parameter {name!r} of: {self.sql}")
            # None is SQL NULL for every type (SQLAlchemy's JSON would store a JSON `null`).
            out.append(value if process is None or value is None else process(value))
        return out


def _typed_rows(results: list[Any], row: type, raw: list[tuple[Any, ...]]) -> list[Any]:
    return [row(*[v if p is None else p(v) for p, v in zip(results, values, strict=True)]) for values in raw]


class _AdHoc:
    """A statement built per request (a search, an auth filter), compiled through SQLAlchemy's
    compiled cache: statements of the same shape share one compilation, and the values of this
    one (its `extracted` bind parameters) are put in at execution, as SQLAlchemy's own
    execution does (`construct_params`, then the expansion of IN lists, whose length varies)."""

    def __init__(self, compiled: Any, dialect: Dialect) -> None:
        self.compiled = compiled
        columns = compiled._result_columns
        self.results = [column.type._cached_result_processor(dialect, None) for column in columns]
        self.row = _row_type(columns)

    def sql_and_parameters(self, values: Mapping[str, Any], extracted: Any) -> tuple[str, list[Any]]:
        compiled = self.compiled
        params = compiled.construct_params(dict(values), extracted_parameters=extracted, _check=False)
        if compiled.post_compile_params or compiled.literal_execute_params:
            expanded = compiled._process_parameters_for_postcompile(params)
            sql, names, params = expanded.statement, expanded.positiontup, expanded.parameters
            processors = {**compiled._bind_processors, **expanded.processors}
        else:
            sql, names, processors = compiled.string, compiled.positiontup, compiled._bind_processors
        out = []
        for name in names or ():
            value = params[name]
            process = processors.get(name)
            out.append(value if process is None or value is None else process(value))
        return sql, out


class Prepared:
    """A Core statement, compiled on first use for each dialect (module constants, as a rule;
    a statement that varies per request is better passed as it is: see `_AdHoc`)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return found


Statement = Prepared | Executable


def row_type(table: Table) -> Any:
    """The named tuple the table's full rows read as, for a row being made in Python."""
    return collections.namedtuple("Row", [column.name for column in table.columns])  # type: ignore[misc]


def select_rows(table: Table) -> Any:
    """SELECT of every column of the table, for rows read by column name (`row.metadata`)."""
    return select(*table.columns)


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


class Statements:
    """What a `db.write()` or `db.read()` block runs its statements with. `dialect`: the
    backend's name (`sqlite` or `postgresql`), for SQL that differs between them."""

    dialect: str

    async def rows(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        raise NotImplementedError

    async def first(self, statement: Statement, params: Mapping[str, Any] | None = None) -> Any | None:
        rows = await self.rows(statement, params)
        return rows[0] if rows else None

    async def scalar(self, statement: Statement, params: Mapping[str, Any] | None = None) -> Any:
        row = await self.first(statement, params)
        return None if row is None else row[0]

    async def scalars(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        return [row[0] for row in await self.rows(statement, params)]

    async def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> None:
        await self.rows(statement, params)

    async def insert(self, full: FullInsert, values: Mapping[str, Any]) -> None:
        await self.execute(full.prepared, full.values(values))


# Shapes of per-request statements kept compiled (SQLAlchemy's engines keep 500 by default).
AD_HOC_CACHE_SIZE = 500


class _SqliteStatements(Statements):
    dialect = "sqlite"

    def __init__(self, conn: InlineConnection, dialect: Dialect) -> None:
        self._conn, self._dialect = conn, dialect
        self._compiled_cache: LRUCache[Any, Any] = LRUCache(AD_HOC_CACHE_SIZE)
        self._ad_hoc: LRUCache[int, _AdHoc] = LRUCache(AD_HOC_CACHE_SIZE)

    async def rows(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled: _Compiled | _AdHoc
        if isinstance(statement, Prepared):
            compiled = statement.compiled(self._dialect)
            sql, parameters = compiled.sql, compiled.parameters(params or {})
        else:
            compiled, sql, parameters = self._ad_hoc_parameters(statement, params or {})
        try:
            cursor = await self._conn.statement(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from exc
        if cursor.description is None:  # no result set (INSERT, UPDATE without RETURNING...)
            return []
        raw = cursor.fetchall()
        # Textual SQL has no typed columns: its rows come back as SQLite gives them.
        return _typed_rows(compiled.results, compiled.row, raw) if compiled.results else raw

    def _ad_hoc_parameters(self, statement: Executable, params: Mapping[str, Any]) -> tuple[_AdHoc, str, list[Any]]:
        compiled, extracted, _ = statement._compile_w_cache(  # type: ignore[attr-defined]
            self._dialect, compiled_cache=self._compiled_cache, column_keys=[], for_executemany=False
        )
        ad_hoc = self._ad_hoc.get(id(compiled))
        if ad_hoc is None or ad_hoc.compiled is not compiled:
            ad_hoc = self._ad_hoc[id(compiled)] = _AdHoc(compiled, self._dialect)
        sql, parameters = ad_hoc.sql_and_parameters(params, extracted)
        return ad_hoc, sql, parameters


# Row types by column names, for rows that SQLAlchemy's engine returns (its own `Row` differs).
_ENGINE_ROWS: LRUCache[tuple[str, ...], type] = LRUCache(AD_HOC_CACHE_SIZE)


class _EngineStatements(Statements):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name

    async def rows(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        executable = statement.statement if isinstance(statement, Prepared) else statement
        try:
            result = await self._conn.execute(executable, dict(params or {}))
        except IntegrityError as exc:
            raise ConstraintViolation(str(exc.orig)) from exc
        if not result.returns_rows:
            return []
        # The same named tuples as on SQLite (`_replace`, `_fields`), whichever backend runs.
        keys = tuple(result.keys())
        row = _ENGINE_ROWS.get(keys)
        if row is None:
            row = _ENGINE_ROWS[keys] = collections.namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        return [row(*values) for values in result.all()]

    async def insert(self, full: FullInsert, values: Mapping[str, Any]) -> None:
        # Columns left out are NULL, as on SQLite (an explicit None would be a JSON `null`).
        given = {name: value for name, value in full.values(values).items() if value is not None}
        await self.execute(insert(full.table), given)


class Transactions(Protocol):
    """The two ways the statements run: `SqliteTurns` and `EngineTransactions`. `Database` wraps one."""

    def write(self) -> Any:
        """`async with t.write() as sql:` a transaction that may write; commits on success."""

    def read(self) -> Any:
        """`async with t.read() as sql:` reads outside a write transaction."""

    @property
    def failed_commits(self) -> int:
        """A count that changes when writes that no one waited for were lost (a run checks it)."""

    async def durable(self) -> None:
        """Return once every write made so far through this object is committed, so that other
        connections see it (a write of another turn may still be in SQLite's open group)."""

    def writes_may_lag(self, enabled: bool) -> contextlib.AbstractContextManager[None]:
        """Write blocks inside need not wait for their COMMIT (db/group_commit.py)."""

    async def close(self) -> None: ...


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

    def write(self) -> _Turn:
        """Commits with its group on success (and returns once that is durable), undone on error."""
        return _Turn(self, begin=True)

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


class EngineTransactions:
    """The same statements through SQLAlchemy Core connections from the engine's pool (PostgreSQL)."""

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

    def writes_may_lag(self, enabled: bool) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # every write block commits before it returns

    async def close(self) -> None:
        return None
