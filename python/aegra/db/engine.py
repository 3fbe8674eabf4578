"""The API's database: its transactions (`write()`, `read()`), on SQLite or PostgreSQL.

Every statement of the server runs in `async with db.write() as sql:` or `db.read()`, through
db/statements.py; the statements themselves live in db/tables/. SQLAlchemy's engine and ORM
sessions (`session()`, `read_session()`) remain for tools that move whole tables (`aegra db
export`/`import`) and for tests; the server does not use them.

SQLite: one file shared with the checkpointer and the store, so every connection runs in
WAL mode with a busy timeout, and write transactions start with `BEGIN IMMEDIATE`. The
connections run their statements on the event loop's thread (db/inline_sqlite.py): a thread
hop per statement cost more than the statements. A
deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
another connection committed in between (busy_timeout cannot help there); taking the
write lock up front makes such writers queue instead. Sessions from `read_session()` keep
plain deferred transactions so that reads never wait for the lock.

PostgreSQL: an asyncpg pool (db/postgres_transactions.py); the schema comes from the Alembic
migrations, applied at startup through SQLAlchemy's engine.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from sqlalchemy import event, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from aegra.config import DatabaseSettings
from aegra.db.inline_sqlite import InlineConnection
from aegra.db.models import POSTGRESQL_ONLY, Base
from aegra.db.postgres_transactions import PostgresTransactions
from aegra.db.sqlite_turns import SqliteTurns
from aegra.db.statements import Statements, Transactions
from aegra.telemetry import metrics

logger = logging.getLogger(__name__)

_READ_ONLY = "aegra_read_only"


def json_text(value: Any) -> str:
    """JSON columns are written with msgspec: several times faster than `json.dumps`, which every
    run paid for its kwargs, metadata and state (the text is compact; readers are unaffected)."""
    return msgspec.json.encode(value).decode()


# What SQLAlchemy's JSON types read and write with, on both backends (db/statements.py included).
JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": msgspec.json.decode}


def sqlite_pragmas(busy_timeout_ms: int) -> list[str]:
    """What every connection to the shared SQLite file runs first (store and checkpointer too)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        # NORMAL in WAL mode loses no committed data when the process crashes (only on power loss).
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
    ]


class Database:
    """Engine and session factories; `open()` also makes sure the schema exists."""

    def __init__(self, settings: DatabaseSettings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self._read_engine = engine.execution_options(**{_READ_ONLY: True})
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self._transactions: Transactions
        if settings.backend == "sqlite":
            assert settings.sqlite_path is not None
            self._transactions = SqliteTurns(
                settings.sqlite_path,
                busy_timeout_ms=settings.busy_timeout_ms,
                pragmas=sqlite_pragmas(settings.busy_timeout_ms),
                dialect=engine.dialect,
            )
        else:
            assert settings.postgres_url is not None
            self._transactions = PostgresTransactions(
                settings.postgres_url, engine.dialect, max_size=settings.pool_size + settings.max_overflow,
                prepared_statements=settings.prepared_statements,
            )  # fmt: skip

    def write(self) -> contextlib.AbstractAsyncContextManager[Statements]:
        """A transaction that may write: committed when the block ends (on SQLite, with its group,
        and the block returns once that is durable), rolled back if it raises."""
        return self._transactions.write()

    def read(self) -> contextlib.AbstractAsyncContextManager[Statements]:
        """Reads only; on SQLite they never wait for the write lock (and see the writes of the
        open group a moment before they are durable: db/group_commit.py)."""
        return self._transactions.read()

    def single_statements(self) -> contextlib.AbstractAsyncContextManager[Statements]:
        """For a lone write statement: on PostgreSQL no transaction around it (it commits by itself,
        without the BEGIN and COMMIT round trips); on SQLite a write turn like any other."""
        return self._transactions.single_statements()

    async def durable(self) -> None:
        """Return once every write made so far is committed and visible to other connections."""
        await self._transactions.durable()

    @property
    def failed_commits(self) -> int:
        """A count that moves when writes no one waited for were lost (see `writes_may_lag`)."""
        return self._transactions.failed_commits

    def writes_may_lag(self, enabled: bool = True) -> contextlib.AbstractContextManager[None]:
        """Write blocks inside (and in tasks started from it) need not wait for their COMMIT: a
        run's checkpoints under `async`/`exit` durability, whose settle waits for one that
        covers them. A COMMIT that fails meanwhile moves `failed_commits`."""
        return self._transactions.writes_may_lag(enabled)

    def exclusive(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """`async with db.exclusive("sweep threads") as mine:` whether this process, of all that
        share the database, is the one to do `name` now (a sweep that should run once, not in each)."""
        return self._transactions.exclusive(name)

    @property
    def shared_sqlite(self) -> SqliteTurns | None:
        """SQLite's shared connection and its turns, which the server's checkpointer joins."""
        return self._transactions if isinstance(self._transactions, SqliteTurns) else None

    @property
    def backend(self) -> str:
        return self.settings.backend

    @classmethod
    async def open(cls, settings: DatabaseSettings) -> Database:
        if settings.backend == "sqlite":
            db = cls(settings, _sqlite_engine(settings))
            async with db.engine.begin() as conn:
                await conn.run_sync(_create_schema)
        else:
            if not settings.prepared_statements and settings.direct_url is None:
                logger.warning("DB_PREPARED_STATEMENTS=false without DATABASE_DIRECT_URL: behind a pooler in "
                               "transaction mode, LISTEN and the setup's session locks need PostgreSQL itself "
                               "(docs/scaling.md)")  # fmt: skip
            db = cls(settings, _postgres_engine(settings))
            if settings.run_migrations:
                from aegra.db.migrate import upgrade_to_head

                await upgrade_to_head(db.engine)
                # Its connection is not needed again (the server's statements use asyncpg's pool).
                await db.engine.dispose()
            await db._transactions.open()  # type: ignore[attr-defined]
        logger.info("database: %s", settings.describe())
        metrics.database_opened(db.engine.dialect.name)
        return db

    async def close(self) -> None:
        await self._transactions.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        """Raise if the database cannot answer a query."""
        async with self.read() as sql:
            await sql.scalar(select(literal(1)))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that may write; commits on success, rolls back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only; on SQLite it never takes the write lock."""
        async with self._read_sessions() as session:
            yield session


# Indexes that older versions made and the models no longer have (migration 0003 on PostgreSQL).
RETIRED_SQLITE_INDEXES = ("ix_runs_assistant_id", "ix_runs_thread_id_status", "ix_runs_status_created_at",
                          "ix_threads_status")  # fmt: skip


def _create_schema(conn: Any) -> None:
    """SQLite has no migrations: tables are created as the models say. `create_all` skips the
    tables and indexes that exist, so columns and indexes added since a file was made are
    created here (new columns are nullable, as `ALTER TABLE ADD COLUMN` requires), and retired
    indexes dropped (each costs every write to its table)."""
    tables = [table for table in Base.metadata.sorted_tables if not table.info.get(POSTGRESQL_ONLY)]
    Base.metadata.create_all(conn, tables=tables)
    for table in tables:
        present = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table.name})")}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    for name in RETIRED_SQLITE_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def _sqlite_engine(settings: DatabaseSettings) -> AsyncEngine:
    assert settings.sqlite_path is not None
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    path, pragmas = settings.sqlite_path, sqlite_pragmas(settings.busy_timeout_ms)

    async def connect() -> InlineConnection:
        return InlineConnection.open(path, busy_timeout_ms=settings.busy_timeout_ms, pragmas=pragmas)

    engine = create_async_engine(settings.sqlalchemy_url, async_creator=connect, **JSON_CODEC)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of the driver's implicit one.
        dbapi_conn.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        connect_args={} if settings.prepared_statements else UNCACHED_STATEMENTS,
        **JSON_CODEC,
    )


# SQLAlchemy's asyncpg dialect names each statement it prepares: without a cache, and with names
# no two connections share, behind a pooler that hands its server connections round (its
# documented settings for PgBouncer). Each is prepared and run in one transaction.
UNCACHED_STATEMENTS = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: f"__aegra_{uuid.uuid4().hex}__",
}
