"""The statements every run executes, built and compiled once (db/direct_sql.py runs them).

Building a SQLAlchemy statement, and executing it through the session, each cost more than
SQLite executing the SQL; a run's creation paid that about ten times. These statements are
module constants, compiled on first use; rows are written with full-column inserts. Statements
that carry an auth filter are built per request (`thread_for_run`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, case, exists, select, update

from aegra.db.direct_sql import FullInsert, Prepared, Statements, select_rows
from aegra.db.json_filters import auth_filter
from aegra.db.models import Assistant, Run, Thread, in_flight

ASSISTANT_BY_ID = Prepared(select_rows(Assistant).where(Assistant.assistant_id == bindparam("assistant_id")))
# What a run is built from: only these columns (a thread's `values` can be a long chat history).
ASSISTANT_FOR_RUN = Prepared(
    select(
        Assistant.assistant_id, Assistant.graph_id, Assistant.config, Assistant.context,
        Assistant.metadata_.label("metadata"),
    ).where(Assistant.assistant_id == bindparam("assistant_id"))
)  # fmt: skip
THREAD_EXISTS = Prepared(select(Thread.thread_id).where(Thread.thread_id == bindparam("thread_id")))
_inflight = (Run.thread_id == bindparam("thread_id"), in_flight(Run.status))
# FOR UPDATE (PostgreSQL; SQLite's writers hold the database lock anyway): two requests for one
# thread must not both see it idle. `inflight`: whether a run of it is pending or running (most
# runs need only that; INFLIGHT_RUN_IDS lists them for the strategies that cancel them).
_THREAD_FOR_RUN = (
    select(
        Thread.thread_id, Thread.metadata_.label("metadata_"), Thread.config, Thread.interrupts,
        exists().where(*_inflight).label("inflight"),
    )
    .where(Thread.thread_id == bindparam("thread_id"))
    .with_for_update()
)  # fmt: skip
THREAD_FOR_RUN = Prepared(_THREAD_FOR_RUN)
INFLIGHT_RUN_IDS = Prepared(select(Run.run_id).where(*_inflight))

_threads = Thread.__table__.c
MARK_THREAD_BUSY = Prepared(
    update(Thread.__table__)
    .where(_threads.thread_id == bindparam("busy_thread_id"))
    .values(
        metadata=bindparam("busy_metadata", type_=_threads.metadata.type), status="busy", updated_at=bindparam("now")
    )
)


_runs = Run.__table__.c
SETTLE_RUN = Prepared(
    update(Run.__table__)
    .where(_runs.run_id == bindparam("settled_run_id"))
    .values(status=bindparam("settled_status"), error=bindparam("settled_error", type_=_runs.error.type),
            ended_at=bindparam("now"), updated_at=bindparam("now"))
)  # fmt: skip
# The thread's state after a run; it stays `busy` while other runs of it are pending or running.
_others_inflight = exists().where(
    _runs.thread_id == bindparam("settled_thread_id"),
    _runs.run_id != bindparam("settled_run_id"),
    in_flight(_runs.status),
)
SETTLE_THREAD = Prepared(
    update(Thread.__table__)
    .where(_threads.thread_id == bindparam("settled_thread_id"))
    .values(
        values=bindparam("state_values", type_=_threads["values"].type),
        interrupts=bindparam("state_interrupts", type_=_threads.interrupts.type),
        state_updated_at=bindparam("now"),
        updated_at=bindparam("now"),
        status=case((_others_inflight, "busy"), else_=bindparam("settled_thread_status")),
    )
    .returning(_threads.status)
)


# The executor's claim: the oldest due pending run whose thread runs nothing. On SQLite the
# caller's write transaction (BEGIN IMMEDIATE) makes it atomic; on PostgreSQL SKIP LOCKED lets
# several workers claim different runs at once (SQLite compiles the FOR UPDATE away).
_busy_threads = select(_runs.thread_id).where(in_flight(_runs.status), _runs.status == "running")
NEXT_CLAIMABLE_RUN = Prepared(
    select(_runs.run_id, _runs.thread_id, _runs.kwargs, _runs.attempt)
    .where(
        in_flight(_runs.status),
        _runs.status == "pending",
        _runs.created_at <= bindparam("now"),
        _runs.thread_id.not_in(_busy_threads),
    )
    .order_by(_runs.created_at, _runs.run_id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
MARK_RUN_STARTED = Prepared(
    update(Run.__table__)
    .where(_runs.run_id == bindparam("claimed_run_id"))
    .values(status="running", started_at=bindparam("now"), updated_at=bindparam("now"), attempt=_runs.attempt + 1)
)


ClaimedRun = tuple[uuid.UUID, uuid.UUID, dict, int]  # run id, thread id, kwargs, attempt


async def claim_next_run(sql: Statements, now: Any) -> ClaimedRun | None:
    """Mark the next due pending run `running` (in the caller's write transaction) and return it."""
    run = await sql.first(NEXT_CLAIMABLE_RUN, {"now": now})
    if run is None:
        return None
    await sql.execute(MARK_RUN_STARTED, {"claimed_run_id": run.run_id, "now": now})
    return run.run_id, run.thread_id, dict(run.kwargs), run.attempt + 1


RUN_BY_ID = Prepared(select_rows(Run).where(Run.run_id == bindparam("run_id")))
RUN_INSERT = FullInsert(Run.__table__)
THREAD_INSERT = FullInsert(Thread.__table__)


def thread_for_run(allowed: dict[str, Any] | None, dialect: str) -> Prepared:
    """The run's thread (parameter `thread_id`), locked; with an auth filter, only if it matches."""
    if not allowed:
        return THREAD_FOR_RUN
    return Prepared(_THREAD_FOR_RUN.where(auth_filter(Thread.metadata_, allowed, dialect)))


async def mark_thread_busy(sql: Statements, thread_id: uuid.UUID, metadata: dict[str, Any], now: Any) -> None:
    await sql.execute(MARK_THREAD_BUSY, {"busy_thread_id": thread_id, "busy_metadata": metadata, "now": now})
