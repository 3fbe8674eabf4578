"""How every statement on the API's tables runs: compiled by SQLAlchemy, executed on the driver.

The tables' SQL lives in db/tables/ (one module per table); it is written as SQLAlchemy Core and
runs inside `async with db.write() as sql:` or `db.read()` (db/engine.py), through the
`Statements` here. There is no ORM session and no SQLAlchemy connection in the server's path: a
unit of work is a handful of small statements, and through an ORM session each one cost
100-200 us of Python (execution context, events, result objects, the greenlet bridge, a pool
checkout per transaction) against the few microseconds SQLite needs to run it. Measured here,
a run's two transactions (create, settle) cost 1.46 ms of CPU through the ORM session, 1.09 ms
through a Core connection and 0.09 ms on a bare connection.

So statements are compiled by SQLAlchemy, for the backend's dialect, with its own bind and result
processors (ids, datetimes and JSON are stored and read exactly as through the ORM), and run on
the driver's connection: on SQLite one shared connection, inline on the event loop's thread
(db/sqlite_turns.py); on PostgreSQL an asyncpg pool (db/postgres_transactions.py). Statements
that never change are module constants (`Prepared`, compiled on first use per dialect);
statements built per request (searches, auth filters) go through SQLAlchemy's compiled cache,
keyed by their shape (`_AdHoc`). Callers see one interface either way: named-tuple rows read by
the table's column names (`row.metadata`).

Python-side column defaults are applied by `FullInsert`; updates set every column they mean to
change (`updated_at` included): the models have no `onupdate`, so both backends write the same.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Float, Numeric, Table, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.util import LRUCache

_REQUIRED = object()
# Shapes of per-request statements kept compiled (SQLAlchemy's engines keep 500 by default).
AD_HOC_CACHE_SIZE = 500


class ConstraintViolation(Exception):
    """A write broke a key or foreign-key constraint (a duplicate id, a row deleted meanwhile).
    The transaction it happened in is spoiled: let it roll back, then decide."""


# asyncpg's type oids for the numeric columns, whose result processors SQLAlchemy picks by the
# type the driver reports (`cursor.description`); no other type of ours consults it.
_PG_NUMERIC_OIDS = {"float": 701, "numeric": 1700}


def _result_processors(columns: Sequence[Any], dialect: Dialect) -> list[Any]:
    processors = []
    for column in columns:
        coltype = None
        if dialect.name == "postgresql" and isinstance(column.type, Numeric):
            coltype = _PG_NUMERIC_OIDS["float" if isinstance(column.type, Float) else "numeric"]
        processors.append(column.type._cached_result_processor(dialect, coltype))
    return processors


def _row_type(columns: Sequence[Any]) -> type:
    return collections.namedtuple("Row", [column.keyname for column in columns], rename=True)


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
        self.results = _result_processors(columns, dialect)
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


def _typed_rows(results: list[Any], row: type, raw: Sequence[Sequence[Any]]) -> list[Any]:
    return [row(*[v if p is None else p(v) for p, v in zip(results, values, strict=True)]) for values in raw]


class _AdHoc:
    """A statement built per request (a search, an auth filter), compiled through SQLAlchemy's
    compiled cache: statements of the same shape share one compilation, and the values of this
    one (its `extracted` bind parameters) are put in at execution, as SQLAlchemy's own
    execution does (`construct_params`, then the expansion of IN lists, whose length varies)."""

    def __init__(self, compiled: Any, dialect: Dialect) -> None:
        self.compiled = compiled
        columns = compiled._result_columns
        self.results = _result_processors(columns, dialect)
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
    return collections.namedtuple("Row", [column.name for column in table.columns])


def select_rows(table: Table) -> Any:
    """SELECT of every column of the table, for rows read by column name (`row.metadata`)."""
    return select(*table.columns)


class FullInsert:
    """INSERT of a new row. Columns not given take their Python-side defaults (`default=`), filled
    in here because SQLAlchemy applies those at execution, which this path skips; the rest are
    NULL. Keys that are not columns are ignored."""

    def __init__(self, table: Table, *, unless_key: str | None = None) -> None:
        """`unless_key`: the row is not written where one with its key exists (`insert_if_absent`).
        PostgreSQL's and SQLite's `ON CONFLICT (key) DO NOTHING` are spelt alike, and both
        dialects compile SQLAlchemy's PostgreSQL construct of it as such."""
        self.table = table
        statement: Any = insert(table)
        if unless_key is not None:
            statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=[unless_key])
            statement = statement.returning(table.c[unless_key])
        self.prepared = Prepared(statement)
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

    async def insert_if_absent(self, full: FullInsert, values: Mapping[str, Any]) -> bool:
        """Whether the row was written: False when one with its key exists (`unless_key`)."""
        return await self.first(full.prepared, full.values(values)) is not None


class Compiler:
    """SQL and positional parameters for one dialect, from a `Prepared` or a per-request statement."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled_cache: LRUCache[Any, Any] = LRUCache(AD_HOC_CACHE_SIZE)
        self._ad_hoc: LRUCache[int, _AdHoc] = LRUCache(AD_HOC_CACHE_SIZE)

    def __call__(self, statement: Statement, params: Mapping[str, Any]) -> tuple[_Compiled | _AdHoc, str, list[Any]]:
        if isinstance(statement, Prepared):
            compiled = statement.compiled(self.dialect)
            return compiled, compiled.sql, compiled.parameters(params)
        found, extracted, _ = statement._compile_w_cache(
            self.dialect, compiled_cache=self._compiled_cache, column_keys=[], for_executemany=False
        )
        ad_hoc = self._ad_hoc.get(id(found))
        if ad_hoc is None or ad_hoc.compiled is not found:
            ad_hoc = self._ad_hoc[id(found)] = _AdHoc(found, self.dialect)
        sql, parameters = ad_hoc.sql_and_parameters(params, extracted)
        return ad_hoc, sql, parameters


def typed_rows(compiled: _Compiled | _AdHoc, raw: Sequence[Sequence[Any]]) -> list[Any]:
    """The driver's rows as named tuples, each value through its column's result processor.
    (Textual SQL has no typed columns: its rows come back as the driver gives them.)"""
    if not compiled.results:
        return list(raw)
    return _typed_rows(compiled.results, compiled.row, raw)


class Transactions(Protocol):
    """How the statements run on one backend (`SqliteTurns`, `PostgresTransactions`); `Database` wraps one."""

    def write(self) -> Any:
        """`async with t.write() as sql:` a transaction that may write; commits on success."""

    def read(self) -> Any:
        """`async with t.read() as sql:` reads outside a write transaction."""

    def single_statements(self) -> Any:
        """`async with t.single_statements() as sql:` statements that each commit on their own."""

    @property
    def failed_commits(self) -> int:
        """A count that changes when writes that no one waited for were lost (a run checks it)."""

    async def durable(self) -> None:
        """Return once every write made so far through this object is committed, so that other
        connections see it (a write of another turn may still be in SQLite's open group)."""

    def writes_may_lag(self, enabled: bool) -> contextlib.AbstractContextManager[None]:
        """Write blocks inside need not wait for their COMMIT (db/group_commit.py)."""

    def exclusive(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """`async with t.exclusive(name) as mine:` whether this process alone does `name` now."""

    async def close(self) -> None: ...
