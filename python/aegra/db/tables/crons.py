"""Every statement on `crons`, including the scheduler's claim of a due firing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update

from aegra.db.models import Cron, Thread, table
from aegra.db.statements import FullInsert, Statements, row_type, select_rows
from aegra.db.tables.common import Conditions, Filter, allowed, contains, count_where, page

_crons = table(Cron)
_c = _crons.c
_threads = table(Thread).c

INSERT = FullInsert(_crons)
_ROW = select_rows(_crons)
# A cron as its rows read, for one that is being made (`insert(sql, row._asdict())`).
Row = row_type(_crons)


async def insert(sql: Statements, values: dict[str, Any]) -> None:
    """A new cron (columns by name). A thread or assistant deleted meanwhile raises
    `ConstraintViolation` (foreign keys)."""
    await sql.insert(INSERT, values)


def filters(
    dialect: str,
    *,
    cron_id: uuid.UUID | None = None,
    assistant_id: uuid.UUID | None = None,
    thread_id: uuid.UUID | None = None,
    enabled: bool | None = None,
    metadata: dict[str, Any] | None = None,
    allowed_by: Filter | None = None,
    thread_allowed_by: Filter | None = None,
) -> Conditions:
    """`allowed_by`: a `crons` auth filter over the cron's metadata; `thread_allowed_by`: a
    `threads` one over the metadata of a thread-bound cron's thread (crons without a thread pass)."""
    conditions = [*contains(_c.metadata, metadata, dialect), *allowed(_c.metadata, allowed_by, dialect)]
    for column, value in ((_c.cron_id, cron_id), (_c.assistant_id, assistant_id), (_c.thread_id, thread_id),
                          (_c.enabled, enabled)):  # fmt: skip
        if value is not None:
            conditions.append(column == value)
    if thread_allowed_by:
        visible = select(_threads.thread_id).where(
            _threads.thread_id == _c.thread_id, *allowed(_threads.metadata, thread_allowed_by, dialect)
        )
        conditions.append(or_(_c.thread_id.is_(None), exists(visible)))
    return conditions


async def get(sql: Statements, cron_id: uuid.UUID, allowed_by: Filter | None = None) -> Any | None:
    """The cron, if it exists and `allowed_by` (an auth filter) matches it."""
    return await sql.first(_ROW.where(*filters(sql.dialect, cron_id=cron_id, allowed_by=allowed_by)))


async def update_fields(sql: Statements, cron_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Set these columns (by name) of one cron."""
    await sql.execute(update(_crons).where(_c.cron_id == cron_id).values(values))


async def delete_one(sql: Statements, cron_id: uuid.UUID, allowed_by: Filter | None) -> bool:
    conditions = filters(sql.dialect, cron_id=cron_id, allowed_by=allowed_by)
    return await sql.first(delete(_crons).where(*conditions).returning(_c.cron_id)) is not None


async def count(sql: Statements, conditions: Conditions) -> int:
    return await count_where(sql, _crons, conditions)


async def search(sql: Statements, conditions: Conditions, *, sort_by: str, descending: bool, limit: int,
                 offset: int) -> list[Any]:  # fmt: skip
    column = _c[sort_by]
    # Missing end times and threads sort as the smallest values on both backends.
    order = column.desc().nulls_last() if descending else column.asc().nulls_first()
    return await page(sql, _ROW.where(*conditions).order_by(order, _c.cron_id.asc()), limit=limit, offset=offset)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        _c.enabled.is_(True),
        _c.next_run_date <= now,
        or_(_c.end_time.is_(None), _c.end_time > now),
    )


async def due(sql: Statements, now: datetime, limit: int) -> list[Any]:
    return await sql.rows(_ROW.where(_due(now)).order_by(_c.next_run_date).limit(limit))


async def claim(sql: Statements, cron_id: uuid.UUID, now: datetime, next_run_date: datetime) -> Any | None:
    """Move a due cron's `next_run_date` on; the cron if this call did it, None if it was no longer due.

    The WHERE re-checks that the cron is due, so of several workers racing for one firing
    exactly one matches: on PostgreSQL the others wait for the row lock, then find the new
    date in the future; on SQLite writers are serialized (BEGIN IMMEDIATE). A PATCH made in
    between (disabled, new schedule) is respected the same way. Firing is not an edit of the
    cron: `updated_at` stays.
    """
    statement = (
        update(_crons).where(_c.cron_id == cron_id, _due(now)).values(next_run_date=next_run_date).returning(*_c)
    )
    return await sql.first(statement)
