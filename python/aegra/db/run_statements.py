"""The statements every run executes, built once, and Core inserts for new rows.

Building a SQLAlchemy statement (and hashing it for the compiled cache) and flushing new ORM
objects through the unit of work each cost more than SQLite executing the SQL; a run's
creation paid that about ten times. These statements are module constants with bound
parameters, so their cache keys are computed once; rows are written with Core inserts.
Statements that carry an auth filter are built per request (repositories/), as before.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, case, exists, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aegra.db.models import Assistant, Base, Run, Thread
from aegra.db.repositories.runs import INFLIGHT

ASSISTANT_BY_ID = select(Assistant).where(Assistant.assistant_id == bindparam("assistant_id"))
THREAD_BY_ID = select(Thread).where(Thread.thread_id == bindparam("thread_id"))
# FOR UPDATE (PostgreSQL; SQLite's writers hold the database lock anyway): two requests for one
# thread must not both see it idle.
THREAD_BY_ID_FOR_UPDATE = THREAD_BY_ID.with_for_update()
INFLIGHT_RUN_IDS = select(Run.run_id).where(Run.thread_id == bindparam("thread_id"), Run.status.in_(INFLIGHT))

_threads = Thread.__table__.c
MARK_THREAD_BUSY = (
    update(Thread.__table__)
    .where(_threads.thread_id == bindparam("busy_thread_id"))
    .values(
        metadata=bindparam("busy_metadata", type_=_threads.metadata.type), status="busy", updated_at=bindparam("now")
    )
)


_runs = Run.__table__.c
SETTLE_RUN = (
    update(Run.__table__)
    .where(_runs.run_id == bindparam("settled_run_id"))
    .values(status=bindparam("settled_status"), error=bindparam("settled_error", type_=_runs.error.type),
            ended_at=bindparam("now"), updated_at=bindparam("now"))
)  # fmt: skip
# The thread's state after a run; it stays `busy` while other runs of it are pending or running.
_others_inflight = exists().where(
    _runs.thread_id == bindparam("settled_thread_id"),
    _runs.run_id != bindparam("settled_run_id"),
    _runs.status.in_(INFLIGHT),
)
SETTLE_THREAD = (
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
_busy_threads = select(_runs.thread_id).where(_runs.status == "running")
NEXT_CLAIMABLE_RUN = (
    select(_runs.run_id, _runs.thread_id, _runs.kwargs, _runs.attempt)
    .where(_runs.status == "pending", _runs.created_at <= bindparam("now"), _runs.thread_id.not_in(_busy_threads))
    .order_by(_runs.created_at, _runs.run_id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
MARK_RUN_STARTED = (
    update(Run.__table__)
    .where(_runs.run_id == bindparam("claimed_run_id"))
    .values(status="running", started_at=bindparam("now"), updated_at=bindparam("now"), attempt=_runs.attempt + 1)
)


def _columns(model: type[Base]) -> list[tuple[str, str]]:
    """(attribute, column name) pairs: `metadata_` is the `metadata` column."""
    return [(prop.key, prop.columns[0].name) for prop in inspect(model).column_attrs]


_COLUMNS: dict[type[Base], list[tuple[str, str]]] = {model: _columns(model) for model in (Run, Thread)}
_INSERTS = {model: insert(model.__table__) for model in _COLUMNS}


async def insert_row(session: AsyncSession, row: Run | Thread) -> None:
    """INSERT a new (transient) row with a Core statement; columns left None get their defaults."""
    values = {
        column: value for attribute, column in _COLUMNS[type(row)] if (value := getattr(row, attribute)) is not None
    }
    await session.execute(_INSERTS[type(row)], values)


async def mark_thread_busy(session: AsyncSession, thread_id: uuid.UUID, metadata: dict[str, Any], now: Any) -> None:
    await session.execute(MARK_THREAD_BUSY, {"busy_thread_id": thread_id, "busy_metadata": metadata, "now": now})
