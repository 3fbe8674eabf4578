"""The hot-path statements (db/direct_sql.py) against the ORM, on a real SQLite file and PostgreSQL.

Rows written by one path must read back identically through the other: ids, timezone-aware
datetimes, JSON, NULLs and column defaults.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import StatementError

from aegra.config import database_from_env
from aegra.db.direct_sql import Prepared, select_rows
from aegra.db.engine import Database
from aegra.db.models import Run, Thread
from aegra.db.repositories import RunRepository, ThreadRepository
from aegra.db.run_statements import (
    INFLIGHT_RUN_IDS,
    RUN_INSERT,
    SETTLE_RUN,
    SETTLE_THREAD,
    THREAD_INSERT,
    thread_for_run,
)


@pytest.fixture
async def db(database_url: str):
    database = await Database.open(database_from_env({"DATABASE_URL": database_url}, Path.cwd()))
    try:
        yield database
    finally:
        await database.close()


async def _new_thread(db: Database, **values) -> uuid.UUID:
    thread_id = uuid.uuid4()
    async with db.direct.write() as sql:
        await sql.insert(THREAD_INSERT, {"thread_id": thread_id, **values})
    return thread_id


async def test_inserted_rows_read_back_through_the_orm(db: Database) -> None:
    thread_id = await _new_thread(db, metadata={"owner": "ann", "n": [1, "é"]})
    run_id, now = uuid.uuid4(), datetime.now(UTC)
    async with db.direct.write() as sql:
        await sql.insert(
            RUN_INSERT,
            {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(), "created_at": now,
             "updated_at": now, "status": "running", "kwargs": {"input": {"x": 1.5}}, "not_a_column": 1},
        )  # fmt: skip
    async with db.read_session() as session:
        thread = await ThreadRepository(session=session).get(thread_id)
        run = await RunRepository(session=session).get(run_id)
    # Column defaults were filled in: status, config, interrupts, timestamps.
    assert thread.status == "idle" and thread.config == {} and thread.interrupts == {}
    assert thread.metadata_ == {"owner": "ann", "n": [1, "é"]}
    assert thread.created_at.tzinfo is not None and thread.values is None
    assert run.created_at == now and run.kwargs == {"input": {"x": 1.5}} and run.metadata_ == {}
    assert run.attempt == 0 and run.error is None and run.started_at is None


async def test_selected_rows_read_like_the_orm_objects(db: Database) -> None:
    thread_id = uuid.uuid4()
    async with db.session() as session:
        session.add(Thread(thread_id=thread_id, metadata_={"k": "v"}, values={"messages": []}))
    async with db.direct.read() as sql:
        by_id = Prepared(select_rows(Thread).where(Thread.thread_id == bindparam("id")))
        row = await sql.first(by_id, {"id": thread_id})
    async with db.read_session() as session:
        orm = await ThreadRepository(session=session).get(thread_id)
    for attribute in ("thread_id", "metadata_", "values", "status", "created_at", "updated_at", "interrupts"):
        assert getattr(row, attribute) == getattr(orm, attribute), attribute
    assert isinstance(row.thread_id, uuid.UUID)


async def test_auth_filtered_lookup_and_expanding_parameters(db: Database) -> None:
    thread_id = await _new_thread(db, metadata={"owner": "ann"})
    async with db.direct.write() as sql:
        params = {"thread_id": thread_id}
        mine = thread_for_run({"owner": "ann"}, db.engine.dialect.name)
        assert (await sql.first(mine, params)).thread_id == thread_id
        theirs = thread_for_run({"owner": "bob"}, db.engine.dialect.name)
        assert await sql.first(theirs, params) is None
        # INFLIGHT_RUN_IDS has `status IN ('pending', 'running')`, expanded at compile time.
        assert await sql.rows(INFLIGHT_RUN_IDS, {"thread_id": thread_id}) == []
        assert not (await sql.first(mine, params)).inflight
        for status in ("pending", "success", "running"):
            await sql.insert(
                RUN_INSERT,
                {"run_id": uuid.uuid4(), "thread_id": thread_id, "assistant_id": uuid.uuid4(), "status": status},
            )
        assert len(await sql.rows(INFLIGHT_RUN_IDS, {"thread_id": thread_id})) == 2
        assert (await sql.first(mine, params)).inflight
        # A forgotten parameter is an error (SQLAlchemy's own on PostgreSQL), never a NULL.
        with pytest.raises((KeyError, StatementError), match="thread_id"):
            await sql.rows(INFLIGHT_RUN_IDS, {})


async def test_settle_statements_and_rollback(db: Database) -> None:
    thread_id = await _new_thread(db, status="busy")
    run_id, later = uuid.uuid4(), datetime.now(UTC) + timedelta(seconds=1)
    async with db.direct.write() as sql:
        await sql.insert(RUN_INSERT, {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(),
                                      "status": "running"})  # fmt: skip
    params = {
        "settled_run_id": run_id, "settled_thread_id": thread_id, "settled_status": "error",
        "settled_error": {"error": "ValueError", "message": "x"}, "state_values": {"a": [1]},
        "state_interrupts": {}, "settled_thread_status": "error", "now": later,
    }  # fmt: skip
    with pytest.raises(RuntimeError):
        async with db.direct.write() as sql:
            await sql.execute(SETTLE_RUN, params)
            raise RuntimeError("nothing of this transaction is kept")
    async with db.read_session() as session:
        assert (await session.scalar(select(Run.status).where(Run.run_id == run_id))) == "running"
    async with db.direct.write() as sql:
        await sql.execute(SETTLE_RUN, params)
        assert await sql.scalar(SETTLE_THREAD, params) == "error"
    async with db.read_session() as session:
        run = await RunRepository(session=session).get(run_id)
        thread = await ThreadRepository(session=session).get(thread_id)
    assert run.status == "error" and run.error == {"error": "ValueError", "message": "x"} and run.ended_at == later
    assert thread.status == "error" and thread.values == {"a": [1]} and thread.state_updated_at == later


async def test_a_failed_commit_leaves_no_transaction_open(sqlite_url: str) -> None:
    """A deferred foreign key fails at COMMIT; the connection must come back usable."""
    db = await Database.open(database_from_env({"DATABASE_URL": sqlite_url}, Path.cwd()))
    try:
        async with db.direct.write() as sql:
            await sql.execute(Prepared(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)")))
            deferred = "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED"
            await sql.execute(Prepared(text(f"CREATE TABLE child (parent INTEGER {deferred})")))
        with pytest.raises(sqlite3.IntegrityError):
            async with db.direct.write() as sql:
                await sql.execute(Prepared(text("INSERT INTO child VALUES (42)")))
        thread_id = await _new_thread(db)
        async with db.direct.read() as sql:
            assert await sql.scalar(Prepared(text("SELECT count(*) FROM child"))) == 0
        async with db.read_session() as session:
            assert await ThreadRepository(session=session).get(thread_id)
    finally:
        await db.close()
