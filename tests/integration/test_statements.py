"""The server's statements (db/statements.py, db/tables/) against the ORM, on a real SQLite file
and PostgreSQL.

Rows written by one path must read back identically through the other: ids, timezone-aware
datetimes, JSON, NULLs and column defaults. Statements built per request share compilations
by shape, with their own values.
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
from aegra.db.engine import Database
from aegra.db.models import Run, Thread
from aegra.db.statements import ConstraintViolation, Prepared, select_rows
from aegra.db.tables import runs, threads


@pytest.fixture
async def db(database_url: str):
    database = await Database.open(database_from_env({"DATABASE_URL": database_url}, Path.cwd()))
    try:
        yield database
    finally:
        await database.close()


async def _new_thread(db: Database, **values) -> uuid.UUID:
    thread_id = uuid.uuid4()
    async with db.write() as sql:
        await threads.insert(sql, {"thread_id": thread_id, **values})
    return thread_id


async def test_inserted_rows_read_back_through_the_orm(db: Database) -> None:
    thread_id = await _new_thread(db, metadata={"owner": "ann", "n": [1, "é"]})
    run_id, now = uuid.uuid4(), datetime.now(UTC)
    async with db.write() as sql:
        await runs.insert(
            sql,
            {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(), "created_at": now,
             "updated_at": now, "status": "running", "kwargs": {"input": {"x": 1.5}}, "not_a_column": 1},
        )  # fmt: skip
    async with db.read_session() as session:
        thread = await session.get(Thread, thread_id)
        run = await session.get(Run, run_id)
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
    async with db.read() as sql:
        by_id = Prepared(select_rows(Thread.__table__).where(Thread.thread_id == bindparam("id")))
        row = await sql.first(by_id, {"id": thread_id})
    async with db.read_session() as session:
        orm = await session.get(Thread, thread_id)
    for column in ("thread_id", "metadata", "values", "status", "created_at", "updated_at", "interrupts"):
        attribute = "metadata_" if column == "metadata" else column  # the ORM's name for it
        assert getattr(row, column) == getattr(orm, attribute), column
    assert isinstance(row.thread_id, uuid.UUID)


async def test_auth_filtered_lookup_and_expanding_parameters(db: Database) -> None:
    thread_id = await _new_thread(db, metadata={"owner": "ann"})
    async with db.write() as sql:
        assert (await threads.lock_for_run(sql, thread_id, {"owner": "ann"})).thread_id == thread_id
        assert await threads.lock_for_run(sql, thread_id, {"owner": "bob"}) is None
        # INFLIGHT_IDS has `status IN ('pending', 'running')`, expanded at compile time.
        assert await runs.in_flight_ids(sql, thread_id) == []
        assert not (await threads.lock_for_run(sql, thread_id, {"owner": "ann"})).inflight
        for status in ("pending", "success", "running"):
            await runs.insert(
                sql, {"run_id": uuid.uuid4(), "thread_id": thread_id, "assistant_id": uuid.uuid4(), "status": status}
            )
        assert len(await runs.in_flight_ids(sql, thread_id)) == 2
        assert (await threads.lock_for_run(sql, thread_id, {"owner": "ann"})).inflight
        # A forgotten parameter is an error (SQLAlchemy's own on PostgreSQL), never a NULL.
        with pytest.raises((KeyError, StatementError), match="thread_id"):
            await sql.rows(runs.INFLIGHT_IDS, {})


async def test_settle_statements_and_rollback(db: Database) -> None:
    thread_id = await _new_thread(db, status="busy")
    run_id, later = uuid.uuid4(), datetime.now(UTC) + timedelta(seconds=1)
    async with db.write() as sql:
        await runs.insert(sql, {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(),
                                "status": "running"})  # fmt: skip
    error = {"error": "ValueError", "message": "x"}
    with pytest.raises(RuntimeError):
        async with db.write() as sql:
            await runs.settle(sql, run_id, status="error", error=error, now=later, owner=None)
            raise RuntimeError("nothing of this transaction is kept")
    async with db.read_session() as session:
        assert (await session.scalar(select(Run.status).where(Run.run_id == run_id))) == "running"
    async with db.write() as sql:
        await runs.settle(sql, run_id, status="error", error=error, now=later, owner=None)
        status = await threads.settle(sql, run_id, thread_id, values={"a": [1]}, interrupts={}, status="error",
                                      now=later)  # fmt: skip
        assert status == "error"
    async with db.read_session() as session:
        run = await session.get(Run, run_id)
        thread = await session.get(Thread, thread_id)
    assert run.status == "error" and run.error == {"error": "ValueError", "message": "x"} and run.ended_at == later
    assert thread.status == "error" and thread.values == {"a": [1]} and thread.state_updated_at == later


async def test_a_failed_commit_leaves_no_transaction_open(sqlite_url: str) -> None:
    """A deferred foreign key fails at COMMIT; the connection must come back usable."""
    db = await Database.open(database_from_env({"DATABASE_URL": sqlite_url}, Path.cwd()))
    try:
        async with db.write() as sql:
            await sql.execute(Prepared(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)")))
            deferred = "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED"
            await sql.execute(Prepared(text(f"CREATE TABLE child (parent INTEGER {deferred})")))
        with pytest.raises(sqlite3.IntegrityError):
            async with db.write() as sql:
                await sql.execute(Prepared(text("INSERT INTO child VALUES (42)")))
        thread_id = await _new_thread(db)
        async with db.read() as sql:
            assert await sql.scalar(Prepared(text("SELECT count(*) FROM child"))) == 0
        async with db.read_session() as session:
            assert await session.get(Thread, thread_id)
    finally:
        await db.close()


async def test_statements_of_one_shape_share_a_compilation_with_their_own_values(db: Database) -> None:
    """Per-request statements (searches, auth filters) compile once per shape; each run of one
    binds its own literals and its own number of IN items."""
    owners = ["ann", "bob", "cy"]
    ids = {owner: await _new_thread(db, metadata={"owner": owner}, status="busy") for owner in owners}
    async with db.read() as sql:
        for owner in owners:  # one shape, three sets of values
            conditions = threads.filters(sql.dialect, metadata={"owner": owner}, status="busy")
            assert await threads.ids_where(sql, conditions) == [ids[owner]]
        for chosen in (owners[:1], owners, owners[1:]):  # IN lists of 1, 3 and 2 items
            wanted = [ids[owner] for owner in chosen]
            found = await threads.ids_where(sql, threads.filters(sql.dialect, ids=wanted))
            assert sorted(found) == sorted(wanted)
        assert await threads.ids_where(sql, threads.filters(sql.dialect, ids=[uuid.uuid4()])) == []


async def test_a_duplicate_key_is_a_constraint_violation_and_leaves_nothing(db: Database) -> None:
    thread_id = await _new_thread(db, metadata={"first": True})
    with pytest.raises(ConstraintViolation):
        async with db.write() as sql:
            await threads.insert(sql, {"thread_id": thread_id, "metadata": {"second": True}})
    async with db.read() as sql:
        assert (await threads.get(sql, thread_id)).metadata == {"first": True}
