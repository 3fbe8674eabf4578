"""Every statement on `runs`: creation, the queue's claim, settling, reading and cancelling.

A run's creation, claim and end are the server's hot path: those statements are module
constants, compiled once (`Prepared`); rows are written with full-column inserts. Runs belong
to their thread, so an auth filter on runs is one on their thread's metadata (`_through_thread`).

The database is the run queue: a run is `pending` until it is claimed (`claim_next`), `running`
while a worker executes it, and ends in one of `TERMINAL`. `in_flight` (models.py) says why the
statements about runs in flight spell their condition the way they do.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, delete, exists, select, update

from aegra.db.models import Run, Thread, in_flight, table
from aegra.db.statements import FullInsert, Prepared, Statements, select_rows
from aegra.db.tables.common import Filter, allowed, page

TERMINAL = ("success", "error", "timeout", "interrupted")

_runs = table(Run)
_r = _runs.c
_threads = table(Thread).c

INSERT = FullInsert(_runs)
_ROW = select_rows(_runs)
BY_ID = Prepared(_ROW.where(_r.run_id == bindparam("run_id")))
_in_flight_on_thread = (_r.thread_id == bindparam("thread_id"), in_flight(_r.status))
INFLIGHT_IDS = Prepared(select(_r.run_id).where(*_in_flight_on_thread))
ANY_INFLIGHT = Prepared(select(exists().where(*_in_flight_on_thread)))


async def insert(sql: Statements, values: dict[str, Any]) -> None:
    await sql.insert(INSERT, values)


def _through_thread(statement: Select[Any], allowed_by: Filter | None, dialect: str) -> Select[Any]:
    """Only runs whose thread's metadata `allowed_by` (an auth filter) matches."""
    if not allowed_by:
        return statement
    visible = select(_threads.thread_id).where(
        _threads.thread_id == _r.thread_id, *allowed(_threads.metadata, allowed_by, dialect)
    )
    return statement.where(exists(visible))


async def get(sql: Statements, run_id: uuid.UUID, allowed_by: Filter | None = None) -> Any | None:
    """The run, if it exists and its thread is one `allowed_by` (an auth filter) matches."""
    if not allowed_by:
        return await sql.first(BY_ID, {"run_id": run_id})
    return await sql.first(_through_thread(_ROW.where(_r.run_id == run_id), allowed_by, sql.dialect))


async def of_thread(sql: Statements, thread_id: uuid.UUID, *, status: str | None, limit: int,
                    offset: int) -> list[Any]:  # fmt: skip
    """A page of the thread's runs, newest first."""
    statement = _ROW.where(_r.thread_id == thread_id)
    if status is not None:
        statement = statement.where(_r.status == status)
    return await page(sql, statement.order_by(_r.created_at.desc(), _r.run_id), limit=limit, offset=offset)


async def in_flight_ids(sql: Statements, thread_id: uuid.UUID) -> list[uuid.UUID]:
    return await sql.scalars(INFLIGHT_IDS, {"thread_id": thread_id})


async def any_in_flight(sql: Statements, thread_id: uuid.UUID) -> bool:
    return bool(await sql.scalar(ANY_INFLIGHT, {"thread_id": thread_id}))


async def in_flight_on_thread(sql: Statements, thread_id: uuid.UUID) -> list[Any]:
    """The thread's pending and running runs, oldest first.

    Sorted here, not in SQL: with an ORDER BY, SQLite picks the (thread_id, created_at) index
    and walks every run the thread ever had instead of the few in flight.
    """
    rows = await sql.rows(_ROW.where(_r.thread_id == thread_id, in_flight(_r.status)))
    return sorted(rows, key=lambda run: (run.created_at, run.run_id))


async def in_flight_targets(sql: Statements, *, status: str | None = None, thread_id: uuid.UUID | None = None,
                            run_ids: list[uuid.UUID] | None = None,
                            allowed_by: Filter | None = None) -> list[tuple[uuid.UUID, uuid.UUID]]:  # fmt: skip
    """`(thread_id, run_id)` of the runs in flight that a bulk cancel names: every run with a
    status (`all`: pending or running), or the given runs of one thread."""
    statement = select(_r.thread_id, _r.run_id).where(in_flight(_r.status))
    if status is not None and status != "all":
        statement = statement.where(_r.status == status)
    if thread_id is not None:
        statement = statement.where(_r.thread_id == thread_id)
    if run_ids is not None:
        statement = statement.where(_r.run_id.in_(run_ids))
    rows = await sql.rows(_through_thread(statement, allowed_by, sql.dialect))
    return [(row.thread_id, row.run_id) for row in rows]


async def delete_one(sql: Statements, run_id: uuid.UUID) -> None:
    await sql.execute(delete(_runs).where(_r.run_id == run_id))


async def end_pending(sql: Statements, run_id: uuid.UUID, *, delete_it: bool, now: datetime) -> bool:
    """A pending run that will never start: it ends `interrupted`, or (`delete_it`: rolled back)
    is gone. False if it was no longer pending."""
    pending = (_r.run_id == run_id, in_flight(_r.status), _r.status == "pending")
    if delete_it:
        statement: Any = delete(_runs).where(*pending).returning(_r.run_id)
    else:
        statement = update(_runs).where(*pending).values(status="interrupted", ended_at=now, updated_at=now)
        statement = statement.returning(_r.run_id)
    return await sql.first(statement) is not None


# -- the queue ---------------------------------------------------------------------------------

# The claim: the oldest due pending run whose thread runs nothing. On SQLite the caller's write
# transaction (BEGIN IMMEDIATE) makes it atomic; on PostgreSQL SKIP LOCKED lets several workers
# claim different runs at once (SQLite compiles the FOR UPDATE away).
_busy_threads = select(_r.thread_id).where(in_flight(_r.status), _r.status == "running")
NEXT_CLAIMABLE = Prepared(
    select(_r.run_id, _r.thread_id, _r.kwargs, _r.attempt)
    .where(
        in_flight(_r.status),
        _r.status == "pending",
        _r.created_at <= bindparam("now"),
        _r.thread_id.not_in(_busy_threads),
    )
    .order_by(_r.created_at, _r.run_id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
MARK_STARTED = Prepared(
    update(_runs)
    .where(_r.run_id == bindparam("claimed_run_id"))
    .values(status="running", started_at=bindparam("now"), updated_at=bindparam("now"), attempt=_r.attempt + 1)
)


class ClaimedRun(NamedTuple):
    run_id: uuid.UUID
    thread_id: uuid.UUID
    kwargs: dict[str, Any]
    attempt: int


async def claim_next(sql: Statements, now: datetime) -> ClaimedRun | None:
    """Mark the next due pending run `running` (in the caller's write transaction) and return it."""
    run = await sql.first(NEXT_CLAIMABLE, {"now": now})
    if run is None:
        return None
    await sql.execute(MARK_STARTED, {"claimed_run_id": run.run_id, "now": now})
    return ClaimedRun(run.run_id, run.thread_id, dict(run.kwargs), run.attempt + 1)


SETTLE = Prepared(
    update(_runs)
    .where(_r.run_id == bindparam("settled_run_id"))
    .values(status=bindparam("settled_status"), error=bindparam("settled_error", type_=_r.error.type),
            ended_at=bindparam("now"), updated_at=bindparam("now"))
)  # fmt: skip


async def settle(sql: Statements, run_id: uuid.UUID, *, status: str, error: dict[str, Any] | None,
                 now: datetime) -> None:  # fmt: skip
    await sql.execute(SETTLE, {"settled_run_id": run_id, "settled_status": status, "settled_error": error, "now": now})


async def fail_interrupted_by_restart(sql: Statements, now: datetime) -> list[uuid.UUID]:
    """Runs left `running` by a process that died: they end as `error`, never stay running."""
    statement = (
        update(_runs)
        .where(in_flight(_r.status), _r.status == "running")
        .values(
            status="error",
            ended_at=now,
            updated_at=now,
            error={"error": "ServerRestart", "message": "the server stopped while this run was in progress"},
        )
        .returning(_r.run_id)
    )
    return await sql.scalars(statement)
