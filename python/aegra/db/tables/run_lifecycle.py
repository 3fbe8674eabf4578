"""A run's creation and its end, with what they read and write of its thread and assistant.

These statements span tables, so they live here, apart from the one module per table: each is
composed of its tables' own statements (runs.py, threads.py, assistants.py) so that each table's
SQL keeps its one home. They exist for PostgreSQL's round trips: there each step is one
statement (a data-modifying CTE, or a NOTIFY in an INSERT's RETURNING), where it was two or three
plus a BEGIN and COMMIT; measured here, a round trip on the run's path cost more than the statement
it carried (docs/scaling.md). SQLite, which lacks data-modifying CTEs and pays no round trips,
runs the parts one after the other in the caller's transaction.
"""

from __future__ import annotations

import collections
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, Text, bindparam, case, exists, func, insert, select, true

from aegra.db.models import Run, Thread, table
from aegra.db.statements import Prepared, Statements
from aegra.db.tables import assistants, runs, threads
from aegra.db.tables.common import Filter

_runs = table(Run)
_threads = table(Thread)

# -- creation --------------------------------------------------------------------------------


# What a run is created from, in one round trip: its assistant and its thread, locked (or no
# thread, when it does not exist or the auth filter hides it). Each half is its table module's
# (`assistants.FOR_RUN_SELECT`, `threads.FOR_RUN_SELECT`). The thread's FOR UPDATE stays inside
# its subquery, which PostgreSQL allows on the nullable side of the outer join (SQLite compiles
# it away).
def _for_creation(thread: Select[Any]) -> Select[Any]:
    assistant_part = assistants.FOR_RUN_SELECT.subquery("run_assistant")
    thread_part = thread.subquery("run_thread")
    return select(assistant_part, *[column.label(f"thread_{column.name}") for column in thread_part.c]).select_from(
        assistant_part.outerjoin(thread_part, true())
    )


FOR_CREATION = Prepared(_for_creation(threads.FOR_RUN_SELECT))
# The two halves' rows, named as their tables' modules name them (built from the statements).
_ASSISTANT_FIELDS = [column.name for column in assistants.FOR_RUN_SELECT.selected_columns]
_THREAD_FIELDS = [column.name for column in threads.FOR_RUN_SELECT.selected_columns]
_AssistantForRun: Any = collections.namedtuple("_AssistantForRun", _ASSISTANT_FIELDS)  # type: ignore[misc]
_ThreadForRun: Any = collections.namedtuple("_ThreadForRun", _THREAD_FIELDS)  # type: ignore[misc]


class Sources(NamedTuple):
    assistant: Any | None  # `assistant_id, graph_id, config, context, metadata`; None: no such assistant
    thread: Any | None  # `thread_id, metadata, config, interrupts, inflight`, locked; None: none (visible)


async def sources(sql: Statements, assistant_id: uuid.UUID, thread_id: uuid.UUID,
                  allowed_by: Filter | None) -> Sources:  # fmt: skip
    """A new run's assistant and its thread, the thread locked for the creation's transaction;
    with an auth filter, the thread only if it matches."""
    statement: Any = FOR_CREATION if not allowed_by else _for_creation(threads.for_run_select(allowed_by, sql.dialect))
    row = await sql.first(statement, {"assistant_id": assistant_id, "thread_id": thread_id})
    if row is None:
        return Sources(None, None)
    split = len(_AssistantForRun._fields)
    thread = _ThreadForRun(*row[split:]) if row[split] is not None else None
    return Sources(_AssistantForRun(*row[:split]), thread)


# On PostgreSQL a new run's INSERT also sends `NOTIFY <wake_channel>` when one is given (a run
# stored pending: other processes may claim it), delivered at COMMIT: a statement of its own cost
# each queued run a pool checkout and a round trip. And on an existing thread it carries the
# thread's busy mark (a data-modifying CTE). SQLite lacks both (one process: nothing to notify),
# and there its two statements cost no round trip. The UPDATE is the threads module's.
_wake_channel = bindparam("wake_channel", type_=Text)
_WAKING = case((_wake_channel.is_not(None), func.pg_notify(_wake_channel, "")), else_=None).label("woken")
INSERT_WAKING = Prepared(insert(_runs).returning(_WAKING))
INSERT_MARKING_BUSY = Prepared(
    insert(_runs)
    .add_cte(threads.MARK_BUSY_UPDATE.returning(_threads.c.thread_id).cte("busy_thread"))
    .returning(_WAKING)
)


async def create(sql: Statements, values: dict[str, Any], *, busy_metadata: dict[str, Any] | None = None,
                 now: datetime | None = None, wake_channel: str | None = None) -> bool:  # fmt: skip
    """A new run. `busy_metadata`: its thread is marked `busy` with this metadata, at `now`.
    `wake_channel`: where to NOTIFY that it waits to be claimed; True if the NOTIFY was sent
    (PostgreSQL), so nobody needs to send it again."""
    busy = None if busy_metadata is None else threads.mark_busy_params(values["thread_id"], busy_metadata, now)
    if sql.dialect == "postgresql":
        statement = INSERT_WAKING if busy is None else INSERT_MARKING_BUSY
        await sql.execute(statement, {**runs.INSERT.values(values), **(busy or {}), "wake_channel": wake_channel})
        return wake_channel is not None
    if busy is not None:
        await sql.execute(threads.MARK_BUSY, busy)
    await runs.insert(sql, values)
    return False


# -- the end ----------------------------------------------------------------------------------

# A run's end and its thread's new state in one statement, on PostgreSQL: a data-modifying CTE
# (which SQLite lacks; there the two statements share the caller's transaction at no round-trip
# cost). The thread changes only if the run's UPDATE matched (the lease holder's settle). Each
# half is its table module's own statement (`runs.SETTLE_UPDATE`, `threads.SETTLE_UPDATE`);
# their parameters share names on purpose.
_settled_run = runs.SETTLE_UPDATE.cte("settled_run")
_settled_thread = (
    threads.SETTLE_UPDATE.where(exists(select(_settled_run.c.run_id)))
    .returning(_threads.c.status)
    .cte("settled_thread")
)
SETTLE_WITH_THREAD = Prepared(
    select(*_settled_run.c, select(_settled_thread.c.status).scalar_subquery().label("thread_status"))
)


class Ended(NamedTuple):
    run: Any  # the run's row as it ended
    thread_status: str  # its thread's status after it (`busy` while other runs of it are in flight)


async def settle(sql: Statements, run_id: uuid.UUID, thread_id: uuid.UUID, *, status: str,
                 error: dict[str, Any] | None, owner: str | None, now: datetime,
                 thread: threads.StateAfterRun) -> Ended | None:  # fmt: skip
    """End a run and copy the state it left onto its thread (`thread`); None, and nothing
    written, if `owner` no longer holds it."""
    params = {"settled_run_id": run_id, "settled_status": status, "settled_error": error, "now": now,
              "lease_owner": owner, **threads.settle_params(run_id, thread_id, thread)}  # fmt: skip
    if sql.dialect == "postgresql":
        row = await sql.first(SETTLE_WITH_THREAD, params)
        return None if row is None else Ended(row, str(row.thread_status))
    row = await sql.first(runs.SETTLE, params)
    if row is None:
        return None
    return Ended(row, await threads.settle(sql, run_id, thread_id, thread, now=now))
