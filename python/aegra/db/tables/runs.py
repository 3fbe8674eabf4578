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
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    null,
    or_,
    select,
    true,
    update,
)

from aegra.db.models import Run, Thread, in_flight, table
from aegra.db.statements import FullInsert, Prepared, Statements, select_rows
from aegra.db.tables.common import Filter, allowed, page

TERMINAL = ("success", "error", "timeout", "interrupted")

_runs = table(Run)
_r = _runs.c
_threads_table = table(Thread)
_threads = _threads_table.c

INSERT = FullInsert(_runs)
_ROW = select_rows(_runs)
BY_ID = Prepared(_ROW.where(_r.run_id == bindparam("run_id")))
_in_flight_on_thread = (_r.thread_id == bindparam("thread_id"), in_flight(_r.status))
INFLIGHT_IDS = Prepared(select(_r.run_id).where(*_in_flight_on_thread))
ANY_INFLIGHT = Prepared(select(exists().where(*_in_flight_on_thread)))


PENDING_COUNT = Prepared(select(func.count()).select_from(_runs).where(_r.status == "pending"))


async def count_pending(sql: Statements) -> int:
    """Runs waiting to be claimed, in every process's queue (the metrics' `aegra_runs_pending`)."""
    return int(await sql.scalar(PENDING_COUNT) or 0)


async def insert(sql: Statements, values: dict[str, Any]) -> None:
    """A new run (a run's creation goes through run_lifecycle.create, which also marks its thread)."""
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


async def newest_created_at(sql: Statements, thread_id: uuid.UUID) -> datetime | None:
    """When the thread's newest run was created (None for a thread with no runs)."""
    statement = select(_r.created_at).where(_r.thread_id == thread_id).order_by(_r.created_at.desc()).limit(1)
    return await sql.scalar(statement)


async def to_follow_on_thread(sql: Statements, thread_id: uuid.UUID, created_after: datetime | None) -> list[Any]:
    """The thread's runs in flight, and those created after `created_after` (every run when None)
    whatever their status, oldest first: a thread stream follows a run that started and ended
    between two of its looks too."""
    newer = _r.created_at > created_after if created_after is not None else true()
    rows = await sql.rows(_ROW.where(_r.thread_id == thread_id, or_(in_flight(_r.status), newer)))
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

# The claim: the oldest due pending run whose thread runs nothing, or a running run whose lease
# ran out (its process died), marked `running` under the claimer's lease in one statement
# (`UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`: on PostgreSQL a
# separate SELECT and UPDATE cost the claim a round trip more). On SQLite the caller's write
# transaction (BEGIN IMMEDIATE) makes it atomic, and leases never run out (one process owns the
# file). On PostgreSQL SKIP LOCKED lets several processes claim different runs at once; locking
# the run's thread row as well keeps two of them from claiming two runs of one thread in the same
# instant (the second skips the run, and finds the thread busy once the first commits). SQLite
# compiles FOR UPDATE away. A run taken over `max_attempts` times already ends `error` in the
# same statement instead (`given_up`), and the caller releases its thread and claims again.
_CLAIMED_COLUMNS = (_r.run_id, _r.thread_id, _r.kwargs, _r.attempt, _r.status, _r.cancel_requested, _r.created_at,
                    _r.traceparent)  # fmt: skip
_queued = _runs.alias("queued")
_q = _queued.c
_busy_threads = select(_r.thread_id).where(in_flight(_r.status), _r.status == "running")
_NEXT_CLAIMABLE = (
    select(_q.run_id, _q.status.label("previous_status"))
    .join_from(_queued, _threads_table, _threads.thread_id == _q.thread_id)
    .where(
        in_flight(_q.status),
        or_(
            and_(_q.status == "pending", _q.created_at <= bindparam("now"), _q.thread_id.not_in(_busy_threads)),
            and_(_q.status == "running", _q.lease_expires_at < bindparam("now")),
        ),
    )
    .order_by(_q.created_at, _q.run_id)
    .limit(1)
    .with_for_update(skip_locked=True, of=[_queued, _threads_table])
)
_given_up = _r.attempt >= bindparam("max_attempts")


def _unless_given_up(claimed: Any, given_up: Any) -> Any:
    return case((_given_up, given_up), else_=claimed)


def _claim(claimed_run_id: Any) -> Any:
    return (
        update(_runs)
        .where(_r.run_id == claimed_run_id)
        .values(
            status=_unless_given_up("running", "error"),
            started_at=_unless_given_up(bindparam("now"), _r.started_at),
            updated_at=bindparam("now"),
            attempt=_unless_given_up(_r.attempt + 1, _r.attempt),
            lease_owner=_unless_given_up(bindparam("lease_owner", type_=String), _r.lease_owner),
            lease_expires_at=_unless_given_up(bindparam("lease_expires_at", type_=_r.lease_expires_at.type), None),
            ended_at=_unless_given_up(None, bindparam("now")),
            error=_unless_given_up(None, bindparam("given_up_error", type_=_r.error.type)),
        )
    )


# RETURNING sees only the new row, so on PostgreSQL the run comes FROM the subquery, whose
# `previous_status` says whether the claim is a takeover. SQLite's RETURNING may not name a FROM
# table; there the subquery is a scalar one, and there are no takeovers (leases never run out).
_next_run = _NEXT_CLAIMABLE.subquery("next_run")
CLAIM = {
    "postgresql": Prepared(_claim(_next_run.c.run_id).returning(*_CLAIMED_COLUMNS, _next_run.c.previous_status)),
    "sqlite": Prepared(
        _claim(_NEXT_CLAIMABLE.with_only_columns(_q.run_id).scalar_subquery()).returning(
            *_CLAIMED_COLUMNS, null().label("previous_status")
        )
    ),
}
_NEXT_DELAYED = select(func.min(_r.created_at)).where(
    in_flight(_r.status), _r.status == "pending", _r.created_at > bindparam("now")
)
_NEXT_EXPIRY = select(func.min(_r.lease_expires_at)).where(
    in_flight(_r.status), _r.status == "running", _r.lease_expires_at > bindparam("now")
)
NEXT_DUE = Prepared(select(_NEXT_DELAYED.scalar_subquery(), _NEXT_EXPIRY.scalar_subquery()))


class ClaimedRun(NamedTuple):
    run_id: uuid.UUID
    thread_id: uuid.UUID
    kwargs: dict[str, Any]
    attempt: int
    cancel_requested: str | None = None  # a cancel asked before this process had the run
    created_at: datetime | None = None  # when it was created (or came due): its queue wait's start
    traceparent: str | None = None  # the creating request's span, for the run's trace to link to
    taken_over: bool = False  # claimed while `running`: its process's lease ran out


class Lease(NamedTuple):
    """Who holds a running run, and until when (None: no expiry, one process owns the database)."""

    owner: str
    expires_at: datetime | None

    def columns(self) -> dict[str, Any]:
        return {"lease_owner": self.owner, "lease_expires_at": self.expires_at}


async def claim_next(sql: Statements, now: datetime, lease: Lease, *, max_attempts: int) -> ClaimedRun | None:
    """Mark the next claimable run `running` under `lease` (in the caller's write transaction) and
    return it. A run taken over `max_attempts` times already ends `error` instead."""
    message = f"this run was cut off {max_attempts} times (its process was lost, or lost the database); giving up"
    params = {"now": now, "max_attempts": max_attempts, "given_up_error": {"error": "WorkerLost", "message": message},
              **lease.columns()}  # fmt: skip
    while (run := await sql.first(CLAIM[sql.dialect], params)) is not None:
        if run.status == "error":  # taken over, or given back after a failure, that often
            await _release_threads(sql, [run.thread_id], now)
            continue
        return ClaimedRun(run.run_id, run.thread_id, dict(run.kwargs), run.attempt, run.cancel_requested,
                          run.created_at, run.traceparent, taken_over=run.previous_status == "running")  # fmt: skip
    return None


async def next_due(sql: Statements, now: datetime) -> datetime | None:
    """When a run becomes claimable without anyone saying so: the next delayed run
    (`after_seconds`) comes due, or the next lease runs out (its process may be gone)."""
    row = await sql.first(NEXT_DUE, {"now": now})
    times = [when for when in row or () if when is not None]
    return min(times) if times else None


# The settle's write: only the run's lease holder may end it (another process may have taken a
# run over whose lease ran out); `lease_owner` NULL ends a run whoever holds it. It returns the
# run's row as it ended (the webhook's body is made of it).
SETTLE_UPDATE = (
    update(_runs)
    .where(_r.run_id == bindparam("settled_run_id"),
           or_(bindparam("lease_owner", type_=String) == None, _r.lease_owner == bindparam("lease_owner")))  # noqa: E711
    .values(status=bindparam("settled_status"), error=bindparam("settled_error", type_=_r.error.type),
            ended_at=bindparam("now"), updated_at=bindparam("now"), lease_expires_at=None)
    .returning(*_runs.columns)
)  # fmt: skip
SETTLE = Prepared(SETTLE_UPDATE)


async def renew_leases(sql: Statements, owner: str, run_ids: Sequence[uuid.UUID], expires_at: datetime) -> None:
    """Extend the leases of these runs, which `owner` is executing (a run it holds but no longer
    executes, say one whose settle failed, lets its lease run out and is taken over)."""
    if not run_ids:
        return
    statement = (
        update(_runs)
        .where(_r.run_id.in_(run_ids), in_flight(_r.status), _r.status == "running", _r.lease_owner == owner)
        .values(lease_expires_at=expires_at)
    )
    await sql.execute(statement)


async def release(sql: Statements, run_id: uuid.UUID, owner: str, now: datetime, *, count_attempt: bool) -> bool:
    """Give a running run back to the queue: pending again, for a process to resume. A process
    that stops does not count the attempt (`count_attempt` False); one that lost the database in
    the middle does. False if `owner` no longer held it."""
    attempt = _r.attempt if count_attempt else _r.attempt - 1
    statement = (
        update(_runs)
        .where(_r.run_id == run_id, _r.lease_owner == owner, in_flight(_r.status), _r.status == "running")
        .values(status="pending", attempt=attempt, lease_owner=None, lease_expires_at=None, updated_at=now)
        .returning(_r.run_id)
    )
    return await sql.first(statement) is not None


async def request_cancel(sql: Statements, run_id: uuid.UUID, action: str) -> bool:
    """Record a cancel for the process running the run; False if it is not running."""
    statement = (
        update(_runs)
        .where(_r.run_id == run_id, in_flight(_r.status), _r.status == "running")
        .values(cancel_requested=action)
        .returning(_r.run_id)
    )
    return await sql.first(statement) is not None


async def cancel_requests(sql: Statements, owner: str) -> list[tuple[uuid.UUID, str]]:
    """`(run_id, action)` of the cancels asked of `owner`'s running runs."""
    statement = select(_r.run_id, _r.cancel_requested).where(
        in_flight(_r.status), _r.status == "running", _r.lease_owner == owner, _r.cancel_requested.is_not(None)
    )
    return [(row.run_id, row.cancel_requested) for row in await sql.rows(statement)]


async def fail_orphans(sql: Statements, now: datetime) -> list[uuid.UUID]:
    """Runs left `running` by a process that died (SQLite: this one, before its restart): they end
    as `error`, never stay running, and their threads are released."""
    statement = (
        update(_runs)
        .where(in_flight(_r.status), _r.status == "running")
        .values(
            status="error",
            ended_at=now,
            updated_at=now,
            lease_expires_at=None,
            error={"error": "ServerRestart", "message": "the server stopped while this run was in progress"},
        )
        .returning(_r.run_id, _r.thread_id)
    )
    rows = await sql.rows(statement)
    await _release_threads(sql, list({row.thread_id for row in rows}), now)
    return [row.run_id for row in rows]


async def _release_threads(sql: Statements, thread_ids: list[uuid.UUID], now: datetime) -> None:
    """Threads whose run ended without a settle: `busy` while other runs of theirs are in flight
    (they run next), else `error`, as after a run that failed."""
    if not thread_ids:
        return
    others = exists().where(_r.thread_id == _threads.thread_id, in_flight(_r.status))
    statement = (
        update(_threads_table)
        .where(_threads.thread_id.in_(thread_ids))
        .values(status=case((others, "busy"), else_="error"), updated_at=now)
    )
    await sql.execute(statement)
