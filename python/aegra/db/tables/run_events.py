"""Every statement on `run_events` (PostgreSQL only): runs' stream events, for readers in other
processes than the one executing the run (domain/runs/postgres_broker.py).

Events are appended in batches, one INSERT for many events of many runs; a run's stream ends
with an `END_OF_STREAM` event, and a run's events are deleted once that end is older than the
retention window.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, text

from aegra.db.models import END_OF_STREAM, RunEvent, table
from aegra.db.statements import Prepared, Statements

__all__ = ["END_OF_STREAM", "after", "any_for", "append", "delete_ended_before", "last_seq"]

_events = table(RunEvent)
_e = _events.c

# One statement for a whole batch: the columns as arrays, unnested into rows, and the
# notifications that wake the readers (sent when the statement commits).
APPEND = Prepared(
    text(
        "WITH appended AS (INSERT INTO run_events (run_id, seq, event, data, created_at) "
        "SELECT r, s, e, d, :now FROM unnest(CAST(:run_ids AS uuid[]), CAST(:seqs AS integer[]), "
        "CAST(:events AS text[]), CAST(:datas AS bytea[])) AS batch(r, s, e, d)) "
        "SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload"
    )
)
AFTER = Prepared(
    select(_e.seq, _e.event, _e.data)
    .where(_e.run_id == bindparam("run_id"), _e.seq > bindparam("after"))
    .order_by(_e.seq)
    .limit(bindparam("limit"))
)
LAST_SEQ = Prepared(select(func.max(_e.seq)).where(_e.run_id == bindparam("run_id")))
ANY = Prepared(select(exists().where(_e.run_id == bindparam("run_id"))))


async def append(sql: Statements, batch: Sequence[tuple[uuid.UUID, int, str, bytes]], now: datetime, *,
                 channel: str, payloads: Sequence[str]) -> None:  # fmt: skip
    """Store `(run_id, seq, event, data)` events, and NOTIFY `channel` with each of `payloads`."""
    run_ids, seqs, events, datas = (list(column) for column in zip(*batch, strict=True))
    params = {"run_ids": run_ids, "seqs": seqs, "events": events, "datas": datas, "now": now, "channel": channel,
              "payloads": list(payloads)}  # fmt: skip
    await sql.execute(APPEND, params)


async def after(sql: Statements, run_id: uuid.UUID, seq: int, limit: int) -> list[Any]:
    """The run's events after `seq` (`seq, event, data`), in order, at most `limit`."""
    return await sql.rows(AFTER, {"run_id": run_id, "after": seq, "limit": limit})


async def last_seq(sql: Statements, run_id: uuid.UUID) -> int:
    return int(await sql.scalar(LAST_SEQ, {"run_id": run_id}) or 0)


async def any_for(sql: Statements, run_id: uuid.UUID) -> bool:
    return bool(await sql.scalar(ANY, {"run_id": run_id}))


async def delete_ended_before(sql: Statements, cutoff: datetime) -> int:
    """Delete the events of runs whose stream ended before `cutoff`; how many runs."""
    ended = select(_e.run_id).where(_e.event == END_OF_STREAM, _e.created_at < cutoff)
    runs = await sql.scalars(ended)
    if runs:
        await sql.execute(delete(_events).where(_e.run_id.in_(runs)))
    return len(runs)
