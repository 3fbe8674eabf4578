"""What a run's end writes: its final status, its thread's new state and status, its webhook's
delivery, and what follows.

The executor (executor.py) calls `Settler.settle` inside the write transaction in which it may
also claim the next run for the slot this one leaves, and `Settler.after` once that transaction
is durable: the webhook's first attempt, and the deletion of a stateless run's thread. The
webhook's delivery is written in the settle's transaction (the outbox, domain/webhooks/), so a
run that ended has its delivery recorded whatever happens to the process next.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from langgraph.checkpoint.base import BaseCheckpointSaver

from aegra.db.engine import Database
from aegra.db.statements import Statements
from aegra.db.tables import checkpoints, run_lifecycle, runs, threads
from aegra.db.tables.webhook_deliveries import Sending
from aegra.domain.runs.execution import UNKNOWN_STATE, Outcome
from aegra.domain.runs.schemas import Run
from aegra.domain.schemas import from_row
from aegra.domain.webhooks.deliverer import Deliverer

logger = logging.getLogger(__name__)

LOST_WRITES = {
    "error": "CheckpointWriteError",
    "message": "the database failed to commit this run's checkpoint writes; its last steps may be lost",
}

# Deletes threads with their checkpoints (the threads service's); for stateless runs.
ThreadDeleter = Callable[[Sequence[uuid.UUID]], Awaitable[Any]]


@dataclass
class Settled:
    values: Any  # the thread's values after the run
    status: str  # the run's final status, as recorded
    thread_busy: bool  # other runs of the thread are pending, so the executor should look
    delivery: Sending | None = None  # the run's webhook, to send once the settle is durable


@dataclass
class Settler:
    db: Database
    checkpointer: BaseCheckpointSaver
    delete_threads: ThreadDeleter | None = None
    webhooks: Deliverer | None = None  # None: webhooks are disabled

    async def rollback(self, run_id: uuid.UUID, thread_id: uuid.UUID) -> None:
        """Undo a run (the `rollback` cancel action): its checkpoints go, and so does the run
        itself, as langgraph-api does."""
        await checkpoints.delete_run_checkpoints(self.checkpointer, str(thread_id), str(run_id))
        async with self.db.write() as sql:
            await runs.delete_one(sql, run_id)

    async def settle(self, sql: Statements, run_id: uuid.UUID, thread_id: uuid.UUID, outcome: Outcome, *,
                     kwargs: dict[str, Any], lost_writes: bool, owner: str,
                     now: datetime) -> Settled | None:  # fmt: skip
        """Write the run's final status, copy the thread's new state onto the thread row and write
        the run's webhook delivery, in the caller's write transaction. `lost_writes`: checkpoint
        writes of this run that nobody waited for may have been lost (db/group_commit.py), so the
        run ends in `error`. None: `owner` no longer holds the run (its lease ran out and another
        process took it over)."""
        summary = outcome.summary or UNKNOWN_STATE
        interrupts = summary["interrupts"]
        # Nodes still to run make the thread `interrupted`, as in langgraph-api: after an interrupt,
        # a breakpoint, and after a run cancelled mid-graph (langgraph-sdk: "the thread's execution
        # was interrupted"); `state.next` says what would run on resume.
        waiting = bool(interrupts) or summary["status"] == "interrupted"
        status, error = outcome.status, outcome.error
        thread_status = "error" if status in ("error", "timeout") else "interrupted" if waiting else "idle"
        if lost_writes:
            logger.error("run %s: a COMMIT with its checkpoint writes failed; the run ends in error", run_id)
            status, error, thread_status = "error", LOST_WRITES, "error"
        rolled_back = outcome.cancel_action == "rollback"  # the run is gone (`rollback`): only its thread
        state = threads.StateAfterRun(summary["values"], interrupts, thread_status)
        row = None
        if rolled_back:
            after = await threads.settle(sql, run_id, thread_id, state, now=now)
        else:
            ended = await run_lifecycle.settle(sql, run_id, thread_id, status=status, error=error, owner=owner, now=now,
                                      thread=state)  # fmt: skip
            if ended is None:
                logger.warning("run %s: another process took it over; this outcome is not recorded", run_id)
                return None
            row, after = ended
        settled = Settled(values=summary["values"], status=status, thread_busy=after == "busy")
        if row is not None and kwargs.get("webhook") and self.webhooks is not None:
            settled.delivery = await self._write_webhook(sql, row, kwargs["webhook"], settled.values, now)
        return settled

    def needs_transaction(self, kwargs: dict[str, Any]) -> bool:
        """Whether the settle writes more than the run and its thread (its webhook's delivery):
        else, on PostgreSQL, it is one statement, which needs no BEGIN and COMMIT around it."""
        return bool(kwargs.get("webhook")) and self.webhooks is not None

    async def after(self, run_id: uuid.UUID, thread_id: uuid.UUID, kwargs: dict[str, Any], settled: Settled) -> None:
        """What follows a durable settle: the run's webhook goes out, and a stateless run's thread goes."""
        if settled.delivery is not None and self.webhooks is not None:
            self.webhooks.send(settled.delivery)
        if kwargs.get("temporary") and self.delete_threads is not None:
            # A stateless run's thread existed only for it (on_completion=delete).
            await self.delete_threads([thread_id])

    async def _write_webhook(self, sql: Statements, row: Any, url: str, values: Any,
                             now: datetime) -> Sending | None:  # fmt: skip
        """The run's webhook delivery, with the body langgraph-api sends: the run as it ended
        (`row`), its start and end, the thread's values and, on failure, the error
        (`webhook_sent_at` is added at each attempt)."""
        if self.webhooks is None:
            return None
        payload = {
            **msgspec.structs.asdict(from_row(Run, row)),
            "run_started_at": row.started_at,
            "run_ended_at": row.ended_at,
            "values": values,
        }
        if row.error is not None:
            payload["error"] = row.error
        return await self.webhooks.enqueue(sql, row.run_id, url, payload, now)
