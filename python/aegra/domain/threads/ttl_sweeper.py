"""Thread TTL: threads whose time is up are deleted (strategy `delete`) or cut down to their
latest checkpoint (`keep_latest`), by a background task (api-surface.md §2.10).

A thread's `expires_at` is set from its TTL when it is created or updated, and moves forward on
every update; a thread with runs in flight is never swept. `keep_latest` clears `expires_at` so the
thread is not pruned again until it changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import exists, select, update

from aegra.db.engine import Database
from aegra.db.models import Run, Thread, in_flight
from aegra.domain.threads.checkpoints import keep_latest_checkpoints
from aegra.periodic import PeriodicSweep

DeleteThreads = Callable[[Sequence[uuid.UUID]], Awaitable[object]]


class ThreadTTLSweeper:
    def __init__(self, db: Database, checkpointer: BaseCheckpointSaver, delete_threads: DeleteThreads, *,
                 interval_minutes: float | None = None, batch_limit: int = 10_000) -> None:  # fmt: skip
        self.db = db
        self.checkpointer = checkpointer
        self.delete_threads = delete_threads
        self.batch_limit = batch_limit
        self._periodic = PeriodicSweep(self.sweep_once, interval_minutes, "threads")

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Settle every expired, idle thread; returns how many were swept."""
        now = now or datetime.now(UTC)
        busy = exists().where(Run.thread_id == Thread.thread_id, in_flight(Run.status))
        statement = (
            select(Thread.thread_id, Thread.ttl_strategy)
            .where(Thread.expires_at <= now, ~busy)
            .order_by(Thread.expires_at)
            .limit(self.batch_limit)
        )
        async with self.db.read_session() as session:
            expired = list(await session.execute(statement))
        doomed = [thread_id for thread_id, strategy in expired if strategy != "keep_latest"]
        trimmed = [thread_id for thread_id, strategy in expired if strategy == "keep_latest"]
        if doomed:
            await self.delete_threads(doomed)
        if trimmed:
            await keep_latest_checkpoints(self.checkpointer, [str(t) for t in trimmed])
            async with self.db.session() as session:
                await session.execute(update(Thread).where(Thread.thread_id.in_(trimmed)).values(expires_at=None))
        return len(expired)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
