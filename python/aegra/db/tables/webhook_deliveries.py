"""Every statement on `webhook_deliveries`, the outbox of run webhooks.

A delivery is written in the transaction that settles its run (`insert`), usually already
claimed by the settling process for its first attempt. Deliveries that are due (a retry, or a
lease that ran out because its process died) are claimed by any process (`claim_due`): on
PostgreSQL `FOR UPDATE SKIP LOCKED` lets several processes claim at once without taking the same
row; on SQLite the write transaction does. Each attempt's result is written where the delivery
still counts that attempt as its latest (`record`), so a late writer cannot undo a newer one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import bindparam, delete, func, not_, select, update

from aegra.db.models import WebhookDelivery, outstanding, table
from aegra.db.statements import FullInsert, Prepared, Statements, select_rows

_deliveries = table(WebhookDelivery)
_d = _deliveries.c

# Unless the run's delivery exists: a settle tried again after a COMMIT whose outcome was unknown
# (db/outages.py) writes it a second time.
INSERT = FullInsert(_deliveries, unless_key="run_id")
_ROW = select_rows(_deliveries)
OF_RUN = Prepared(_ROW.where(_d.run_id == bindparam("run_id")))

_SENDING = ("run_id", "url", "payload", "attempts", "history")
_DUE = (
    select(*(_d[name] for name in _SENDING))
    .where(outstanding(_d.status), _d.due_at <= bindparam("now"))
    .order_by(_d.due_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
DUE = Prepared(_DUE)
DUE_ABSOLUTE = Prepared(_DUE.where(not_(_d.url.startswith("/"))))  # for a process that serves no routes
CLAIM = Prepared(
    update(_deliveries)
    .where(_d.run_id == bindparam("claimed_id"))
    .values(status="sending", attempts=_d.attempts + 1, due_at=bindparam("lease_until"), updated_at=bindparam("now"))
)
NEXT_DUE = Prepared(select(func.min(_d.due_at)).where(outstanding(_d.status)))
RECORD = Prepared(
    update(_deliveries)
    .where(_d.run_id == bindparam("recorded_id"), _d.attempts == bindparam("attempt"))
    .values(status=bindparam("recorded_status"), due_at=bindparam("next_due_at", type_=_d.due_at.type),
            history=bindparam("recorded_history", type_=_d.history.type), updated_at=bindparam("now"))
    .returning(_d.attempts)  # an int: nothing to convert
)  # fmt: skip
EXPIRED = Prepared(
    delete(_deliveries).where(_d.created_at < bindparam("cutoff"), not_(outstanding(_d.status))).returning(_d.run_id)
)


class Sending(NamedTuple):
    """A delivery claimed for an attempt: `attempts` counts that attempt. Its id is its run's."""

    run_id: uuid.UUID
    url: str
    payload: Any  # the body without `webhook_sent_at`: its JSON text when just made, a dict once read back
    attempts: int
    history: list[Any]


async def insert(sql: Statements, delivery: Sending, *, status: str, due_at: datetime, now: datetime) -> bool:
    """A new delivery: `sending` (claimed by the caller for its first attempt, until `due_at`) or
    `pending` (for any process to claim once `due_at` comes). False, and nothing written, when
    the run's delivery exists already."""
    values = {**delivery._asdict(), "status": status, "due_at": due_at, "created_at": now, "updated_at": now}
    if isinstance(delivery.payload, bytes):
        values["payload"] = msgspec.Raw(delivery.payload)  # JSON columns are written by msgspec: as it is
    return await sql.insert_if_absent(INSERT, values)


async def claim_due(sql: Statements, *, now: datetime, lease_until: datetime, limit: int,
                    relative: bool = True) -> list[Sending]:  # fmt: skip
    """Claim up to `limit` due deliveries for an attempt each, leased until `lease_until` (in the
    caller's write transaction); `relative`: those to a relative URL (`/path`) too."""
    claimed = []
    for row in await sql.rows(DUE if relative else DUE_ABSOLUTE, {"now": now, "limit": limit}):
        await sql.execute(CLAIM, {"claimed_id": row.run_id, "lease_until": lease_until, "now": now})
        claimed.append(Sending(row.run_id, row.url, row.payload, row.attempts + 1, list(row.history)))
    return claimed


async def next_due(sql: Statements) -> datetime | None:
    """When the earliest outstanding delivery comes due (a lease's end counts), if any."""
    return await sql.scalar(NEXT_DUE)


async def record(sql: Statements, run_id: uuid.UUID, attempt: int, *, status: str, due_at: datetime | None,
                 history: list[Any], now: datetime) -> bool:  # fmt: skip
    """Write an attempt's result: the delivery's new status, when its next attempt is due, its
    attempts so far. False when the delivery has moved past this attempt (its lease ran out and
    another process claimed it), and nothing was written."""
    params = {"recorded_id": run_id, "attempt": attempt, "recorded_status": status, "next_due_at": due_at,
              "recorded_history": history, "now": now}  # fmt: skip
    return await sql.first(RECORD, params) is not None


async def of_run(sql: Statements, run_id: uuid.UUID) -> list[Any]:
    """The run's delivery (a list: none for a run without a webhook)."""
    return await sql.rows(OF_RUN, {"run_id": run_id})


async def delete_finished_before(sql: Statements, cutoff: datetime) -> int:
    """Retention: deliveries made before `cutoff` that are delivered or failed go."""
    return len(await sql.rows(EXPIRED, {"cutoff": cutoff}))
