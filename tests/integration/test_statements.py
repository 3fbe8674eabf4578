"""The server's statements (db/statements.py, db/tables/) against the ORM, on a real SQLite file
and PostgreSQL.

Rows written by one path must read back identically through the other: ids, timezone-aware
datetimes, JSON, NULLs and column defaults. Statements built per request share compilations
by shape, with their own values.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import StatementError

from aegra.config import database_from_env
from aegra.db.engine import Database
from aegra.db.models import Run, Thread
from aegra.db.statements import ConstraintViolation, Prepared, select_rows
from aegra.db.tables import assistants, run_lifecycle, runs, threads


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
    assistant_id = uuid.uuid4()
    async with db.write() as sql:
        await assistants.insert(sql, {"assistant_id": assistant_id, "graph_id": "g", "name": "a", "config": {"c": 1}})

        async def locked(allowed_by: dict | None, assistant: uuid.UUID = assistant_id) -> run_lifecycle.Sources:
            return await run_lifecycle.sources(sql, assistant, thread_id, allowed_by)

        # A run's assistant and its thread in one statement; the thread only where the filter matches.
        found = await locked({"owner": "ann"})
        assert found.assistant.graph_id == "g" and found.assistant.config == {"c": 1}
        assert found.thread.thread_id == thread_id and found.thread.metadata == {"owner": "ann"}
        assert (await locked({"owner": "bob"})) == (found.assistant, None)
        assert (await locked(None, uuid.uuid4())) == (None, None)
        # INFLIGHT_IDS has `status IN ('pending', 'running')`, expanded at compile time.
        assert await runs.in_flight_ids(sql, thread_id) == []
        assert not (await locked({"owner": "ann"})).thread.inflight
        for status in ("pending", "success", "running"):
            await runs.insert(
                sql, {"run_id": uuid.uuid4(), "thread_id": thread_id, "assistant_id": uuid.uuid4(), "status": status}
            )
        assert len(await runs.in_flight_ids(sql, thread_id)) == 2
        assert (await locked({"owner": "ann"})).thread.inflight
        assert (await locked(None)).thread.inflight
        # A forgotten parameter is an error (SQLAlchemy's own on PostgreSQL), never a NULL.
        with pytest.raises((KeyError, StatementError), match="thread_id"):
            await sql.rows(runs.INFLIGHT_IDS, {})


async def test_the_run_insert_marks_its_thread_busy(db: Database) -> None:
    """run_lifecycle.create with `busy_metadata`: on PostgreSQL one statement (a CTE), on SQLite two."""
    thread_id = await _new_thread(db, metadata={"owner": "ann"})
    run_id, now = uuid.uuid4(), datetime.now(UTC) + timedelta(seconds=1)
    async with db.write() as sql:
        values = {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(), "status": "running",
                  "kwargs": {"k": 1}}  # fmt: skip
        await run_lifecycle.create(sql, values, busy_metadata={"graph_id": "g"}, now=now)
    async with db.read_session() as session:
        thread = await session.get(Thread, thread_id)
        run = await session.get(Run, run_id)
    assert (thread.status, thread.metadata_, thread.updated_at) == ("busy", {"graph_id": "g"}, now)
    assert run.kwargs == {"k": 1} and run.status == "running" and run.multitask_strategy is None


async def test_settle_statements_and_rollback(db: Database) -> None:
    thread_id = await _new_thread(db, status="busy")
    run_id, later = uuid.uuid4(), datetime.now(UTC) + timedelta(seconds=1)
    async with db.write() as sql:
        await runs.insert(sql, {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(),
                                "status": "running", "lease_owner": "host-a"})  # fmt: skip
    error = {"error": "ValueError", "message": "x"}
    state = threads.StateAfterRun({"a": [1]}, {}, "error")
    with pytest.raises(RuntimeError):
        async with db.write() as sql:
            await run_lifecycle.settle(sql, run_id, thread_id, status="error", error=error, owner=None, now=later,
                                       thread=state)  # fmt: skip
            raise RuntimeError("nothing of this transaction is kept")
    async with db.read_session() as session:
        assert (await session.scalar(select(Run.status).where(Run.run_id == run_id))) == "running"
    # Another process's settle (it lost the lease) writes neither the run nor its thread.
    async with db.single_statements() as sql:
        other = threads.StateAfterRun({"b": 2}, {}, "idle")
        assert await run_lifecycle.settle(sql, run_id, thread_id, status="success", error=None, owner="host-b",
                                          now=later, thread=other) is None  # fmt: skip
    async with db.read_session() as session:
        assert (await session.get(Thread, thread_id)).values is None
    async with db.single_statements() as sql:
        ended = await run_lifecycle.settle(sql, run_id, thread_id, status="error", error=error, owner="host-a",
                                           now=later, thread=state)  # fmt: skip
    assert ended is not None and ended.thread_status == "error"
    assert ended.run.run_id == run_id and ended.run.status == "error" and ended.run.error == error
    assert ended.run.ended_at == later and ended.run.lease_expires_at is None
    async with db.read_session() as session:
        run = await session.get(Run, run_id)
        thread = await session.get(Thread, thread_id)
    assert run.status == "error" and run.error == {"error": "ValueError", "message": "x"} and run.ended_at == later
    assert thread.status == "error" and thread.values == {"a": [1]} and thread.state_updated_at == later


async def test_settle_keeps_the_thread_busy_while_another_run_waits(db: Database) -> None:
    thread_id = await _new_thread(db, status="busy")
    running, waiting, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    async with db.write() as sql:
        for run_id, status in ((running, "running"), (waiting, "pending")):
            await runs.insert(sql, {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(),
                                    "status": status, "created_at": now})  # fmt: skip
    async with db.single_statements() as sql:
        ended = await run_lifecycle.settle(sql, running, thread_id, status="success", error=None, owner=None, now=now,
                                  thread=threads.StateAfterRun({"n": 1}, {}, "idle"))  # fmt: skip
    assert ended is not None and ended.thread_status == "busy"


async def test_the_claim_marks_one_run_and_gives_up_after_max_attempts(db: Database) -> None:
    """runs.claim_next is one UPDATE with its SELECT ... FOR UPDATE SKIP LOCKED inside: the oldest
    due run of an idle thread goes `running` under the lease; one tried `max_attempts` times ends
    `error` and its thread is released."""
    now = datetime.now(UTC)
    lease = runs.Lease("host-a", now + timedelta(seconds=30))
    worn, fresh, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    worn_thread, thread_id = await _new_thread(db, status="busy"), await _new_thread(db, status="busy")
    async with db.write() as sql:
        for run_id, thread, created, attempt in ((worn, worn_thread, now - timedelta(seconds=3), 3),
                                                 (fresh, thread_id, now - timedelta(seconds=2), 0),
                                                 (later, thread_id, now - timedelta(seconds=1), 0)):  # fmt: skip
            await runs.insert(sql, {"run_id": run_id, "thread_id": thread, "assistant_id": uuid.uuid4(),
                                    "status": "pending", "created_at": created, "attempt": attempt,
                                    "kwargs": {"k": 1}, "traceparent": "tp"})  # fmt: skip
    async with db.write() as sql:
        claimed = await runs.claim_next(sql, now, lease, max_attempts=3)
        assert claimed == runs.ClaimedRun(fresh, thread_id, {"k": 1}, 1, None, now - timedelta(seconds=2), "tp")
        # The thread now runs one: its next run waits.
        assert await runs.claim_next(sql, now, lease, max_attempts=3) is None
    async with db.read_session() as session:
        run = await session.get(Run, fresh)
        gone = await session.get(Run, worn)
        released = await session.get(Thread, worn_thread)
    assert (run.status, run.attempt, run.lease_owner, run.started_at) == ("running", 1, "host-a", now)
    assert run.lease_expires_at == lease.expires_at and run.ended_at is None and run.error is None
    assert (gone.status, gone.attempt, gone.ended_at, gone.lease_owner) == ("error", 3, now, None)
    assert gone.error["error"] == "WorkerLost" and "3 times" in gone.error["message"]
    assert released.status == "error"


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


async def test_a_pending_runs_insert_carries_its_notify(db: Database) -> None:
    """On PostgreSQL the INSERT of a run stored pending sends `NOTIFY aegra_runs` itself, delivered
    at COMMIT (no statement of its own); on SQLite there is no one to tell."""
    thread_id = await _new_thread(db)
    values = {"run_id": uuid.uuid4(), "thread_id": thread_id, "assistant_id": uuid.uuid4(), "status": "pending"}
    if db.backend != "postgres":
        async with db.write() as sql:
            assert await run_lifecycle.create(sql, values, wake_channel="aegra_runs") is False
        return
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(db.settings.postgres_url)
    try:
        await listener.add_listener("aegra_runs", lambda *args: heard.put_nowait(args[-1]))
        async with db.write() as sql:
            now = datetime.now(UTC)
            assert await run_lifecycle.create(sql, values, busy_metadata={}, now=now, wake_channel="aegra_runs")
            await asyncio.sleep(0.2)
            assert heard.empty(), "delivered only once the transaction commits"
        assert await asyncio.wait_for(heard.get(), 5) == ""
        async with db.write() as sql:  # a run that starts at once: no NOTIFY
            assert not await run_lifecycle.create(sql, {**values, "run_id": uuid.uuid4(), "status": "running"})
        await asyncio.sleep(0.2)
        assert heard.empty()
    finally:
        await listener.close()


async def test_a_claim_says_when_it_takes_a_run_over(db: Database) -> None:
    """A running run whose lease ran out is claimed as a takeover (the claims metric's `kind`);
    the claim's RETURNING sees only the new row, so the old status comes from its subquery."""
    if db.backend != "postgres":
        pytest.skip("on SQLite leases never run out (one process owns the file)")
    now = datetime.now(UTC)
    stale, fresh = await _new_thread(db, status="busy"), await _new_thread(db, status="busy")
    lost, queued = uuid.uuid4(), uuid.uuid4()
    async with db.write() as sql:
        await runs.insert(sql, {"run_id": lost, "thread_id": stale, "assistant_id": uuid.uuid4(), "status": "running",
                                "attempt": 1, "created_at": now - timedelta(seconds=2), "lease_owner": "gone",
                                "lease_expires_at": now - timedelta(seconds=1)})  # fmt: skip
        await runs.insert(sql, {"run_id": queued, "thread_id": fresh, "assistant_id": uuid.uuid4(),
                                "status": "pending", "created_at": now - timedelta(seconds=1)})  # fmt: skip
    lease = runs.Lease("host-a", now + timedelta(seconds=30))
    async with db.write() as sql:
        first = await runs.claim_next(sql, now, lease, max_attempts=3)
        second = await runs.claim_next(sql, now, lease, max_attempts=3)
    assert (first.run_id, first.attempt, first.taken_over) == (lost, 2, True)
    assert (second.run_id, second.attempt, second.taken_over) == (queued, 1, False)
