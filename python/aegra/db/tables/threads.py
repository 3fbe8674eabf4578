"""Every statement on `threads`.

A thread row mirrors its latest state (`values`, `interrupts`, `status`) so that searches can
filter on them without reading checkpoints; runs keep `status` right as they start and end
(`mark_busy`, `settle`), and so do direct state updates (`record_state`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, case, delete, exists, select, update

from aegra.db.models import Run, Thread, in_flight, not_idle, table
from aegra.db.statements import FullInsert, Prepared, Statements, select_rows
from aegra.db.tables.common import Conditions, Filter, allowed, contains, count_where, page

_threads = table(Thread)
_t = _threads.c
_runs = table(Run).c

INSERT = FullInsert(_threads)
_ROW = select_rows(_threads)
_BY_ID = _ROW.where(_t.thread_id == bindparam("thread_id"))
BY_ID = Prepared(_BY_ID)
EXISTS = Prepared(select(_t.thread_id).where(_t.thread_id == bindparam("thread_id")))


def _has_runs_in_flight(thread_id: Any) -> Any:
    return exists().where(_runs.thread_id == thread_id, in_flight(_runs.status))


async def insert(sql: Statements, values: dict[str, Any]) -> None:
    """A new thread (columns by name; missing ones take their defaults). A duplicate id raises
    `ConstraintViolation`."""
    await sql.insert(INSERT, values)


async def get(sql: Statements, thread_id: uuid.UUID, allowed_by: Filter | None = None) -> Any | None:
    """The thread, if it exists and `allowed_by` (an auth filter) matches it."""
    if not allowed_by:
        return await sql.first(BY_ID, {"thread_id": thread_id})
    return await sql.first(_BY_ID.where(*allowed(_t.metadata, allowed_by, sql.dialect)), {"thread_id": thread_id})


async def present(sql: Statements, thread_id: uuid.UUID) -> bool:
    """Whether the thread exists, whoever may see it."""
    return await sql.first(EXISTS, {"thread_id": thread_id}) is not None


async def update_fields(sql: Statements, thread_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Set these columns (by name) of one thread."""
    await sql.execute(update(_threads).where(_t.thread_id == thread_id).values(values))


def filters(
    dialect: str,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    metadata: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status: str | None = None,
    allowed_by: Filter | None = None,
) -> Conditions:
    """What thread searches filter on; `allowed_by`: an `@auth.on` handler's filter over metadata."""
    conditions = [
        *contains(_t.metadata, metadata, dialect),
        *contains(_t["values"], values, dialect),
        *allowed(_t.metadata, allowed_by, dialect),
    ]
    if ids is not None:
        conditions.append(_t.thread_id.in_(ids))
    if status is not None:
        conditions.append(_t.status == status)
        if status != "idle":  # lets SQLite use the partial index (models.in_flight says why)
            conditions.append(not_idle(_t.status))
    return conditions


async def search(sql: Statements, conditions: Conditions, *, sort_by: str, descending: bool, limit: int,
                 offset: int) -> list[Any]:  # fmt: skip
    column = _t[sort_by]
    order = [column.desc() if descending else column.asc(), _t.thread_id.asc()]
    return await page(sql, _ROW.where(*conditions).order_by(*order), limit=limit, offset=offset)


async def count(sql: Statements, conditions: Conditions) -> int:
    return await count_where(sql, _threads, conditions)


async def ids_where(sql: Statements, conditions: Sequence[ColumnElement[bool]]) -> list[uuid.UUID]:
    return await sql.scalars(select(_t.thread_id).where(*conditions))


async def delete_ids(sql: Statements, ids: Sequence[uuid.UUID], allowed_by: Filter | None = None) -> list[uuid.UUID]:
    """Delete these threads (their runs and crons go with them, by foreign key); the ids that
    existed and `allowed_by` matched."""
    found = await ids_where(sql, filters(sql.dialect, ids=ids, allowed_by=allowed_by))
    if found:
        await sql.execute(delete(_threads).where(_t.thread_id.in_(found)))
    return found


# -- a run's thread --------------------------------------------------------------------------

# FOR UPDATE (PostgreSQL; SQLite's writers hold the database lock anyway): two requests for one
# thread must not both see it idle. `inflight`: whether a run of it is pending or running (most
# runs need only that; runs.INFLIGHT_IDS lists them for the strategies that cancel them).
# run_lifecycle.FOR_CREATION reads it with the run's assistant, in one round trip.
FOR_RUN_SELECT = (
    select(_t.thread_id, _t.metadata, _t.config, _t.interrupts,
           _has_runs_in_flight(bindparam("thread_id")).label("inflight"))
    .where(_t.thread_id == bindparam("thread_id"))
    .with_for_update()
)  # fmt: skip


def for_run_select(allowed_by: Filter | None, dialect: str) -> Select[Any]:
    """FOR_RUN_SELECT; with an auth filter, only a thread that it matches."""
    return FOR_RUN_SELECT if not allowed_by else FOR_RUN_SELECT.where(*allowed(_t.metadata, allowed_by, dialect))


# A run's creation marks its thread busy; run_lifecycle.INSERT_MARKING_BUSY does it in the run's INSERT.
MARK_BUSY_UPDATE = (
    update(_threads)
    .where(_t.thread_id == bindparam("busy_thread_id"))
    .values(metadata=bindparam("busy_metadata", type_=_t.metadata.type), status="busy", updated_at=bindparam("now"))
)
MARK_BUSY = Prepared(MARK_BUSY_UPDATE)


def mark_busy_params(thread_id: uuid.UUID, metadata: dict[str, Any], now: datetime | None) -> dict[str, Any]:
    return {"busy_thread_id": thread_id, "busy_metadata": metadata, "now": now}


# The thread's state after a run; it stays `busy` while other runs of it are pending or running.
_others_inflight = exists().where(
    _runs.thread_id == bindparam("settled_thread_id"),
    _runs.run_id != bindparam("settled_run_id"),
    in_flight(_runs.status),
)
SETTLE_UPDATE = (
    update(_threads)
    .where(_t.thread_id == bindparam("settled_thread_id"))
    .values(
        values=bindparam("state_values", type_=_t["values"].type),
        interrupts=bindparam("state_interrupts", type_=_t.interrupts.type),
        state_updated_at=bindparam("now"),
        updated_at=bindparam("now"),
        status=case((_others_inflight, "busy"), else_=bindparam("settled_thread_status")),
    )
)
SETTLE = Prepared(SETTLE_UPDATE.returning(_t.status))


class StateAfterRun(NamedTuple):
    """What a run leaves on its thread: its values and interrupts, and its status unless other
    runs of it are in flight."""

    values: Any
    interrupts: dict[str, Any]
    status: str


def settle_params(run_id: uuid.UUID, thread_id: uuid.UUID, state: StateAfterRun) -> dict[str, Any]:
    """SETTLE's parameters but `now` (run_lifecycle.SETTLE_WITH_THREAD shares them)."""
    return {"settled_run_id": run_id, "settled_thread_id": thread_id, "state_values": state.values,
            "state_interrupts": state.interrupts, "settled_thread_status": state.status}  # fmt: skip


async def settle(sql: Statements, run_id: uuid.UUID, thread_id: uuid.UUID, state: StateAfterRun, *,
                 now: datetime) -> str:  # fmt: skip
    """Copy the state a run left onto its thread; the thread's status after it (`busy` while
    other runs of it are in flight). A run's own settle goes through `run_lifecycle.settle`, which calls
    this (or does both in one statement)."""
    return str(await sql.scalar(SETTLE, {**settle_params(run_id, thread_id, state), "now": now}))


async def record_state(sql: Statements, thread_id: uuid.UUID, *, values: Any, interrupts: dict[str, Any],
                       status: str, touched: dict[str, Any]) -> None:  # fmt: skip
    """Mirror a state written outside a run (langgraph-api's `set_status`): `busy` while runs
    are in flight, else `status`; `touched`: `updated_at` (and `expires_at`) as the thread's TTL says."""
    statement = (
        update(_threads)
        .where(_t.thread_id == thread_id)
        .values(
            values=values,
            interrupts=interrupts,
            status=case((_has_runs_in_flight(_t.thread_id), "busy"), else_=status),
            state_updated_at=touched["updated_at"],
            **touched,
        )
    )
    await sql.execute(statement)


# -- TTL ---------------------------------------------------------------------------------------


async def expired(sql: Statements, now: datetime, limit: int) -> list[Any]:
    """Threads whose TTL is up and that run nothing (`thread_id, ttl_strategy`), soonest first."""
    statement = (
        select(_t.thread_id, _t.ttl_strategy)
        .where(_t.expires_at <= now, ~_has_runs_in_flight(_t.thread_id))
        .order_by(_t.expires_at)
        .limit(limit)
    )
    return await sql.rows(statement)


async def clear_expiry(sql: Statements, ids: Sequence[uuid.UUID], now: datetime) -> None:
    """Threads cut down to their latest checkpoint: not swept again until they change."""
    await sql.execute(update(_threads).where(_t.thread_id.in_(ids)).values(expires_at=None, updated_at=now))
