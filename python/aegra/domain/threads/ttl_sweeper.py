"""Thread TTL: threads whose time is up are deleted (strategy `delete`) or cut down to their
latest checkpoint (`keep_latest`), by a background task, as langgraph-api's thread TTL sweep does.

A thread's `expires_at` is set from its TTL when it is created or updated, and moves forward on
every update; a thread with runs in flight is never swept. `keep_latest` clears `expires_at` so the
thread is not pruned again until it changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from langgraph.checkpoint.base import BaseCheckpointSaver

from aegra.db.engine import Database
from aegra.db.tables import checkpoints, threads
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
        """Settle every expired, idle thread; returns how many were swept (by one process of
        those sharing the database at a time)."""
        async with self.db.exclusive("aegra: thread TTL sweep") as mine:
            return await self._sweep(now or datetime.now(UTC)) if mine else 0

    async def _sweep(self, now: datetime) -> int:
        async with self.db.read() as sql:
            expired = await threads.expired(sql, now, self.batch_limit)
        doomed = [thread_id for thread_id, strategy in expired if strategy != "keep_latest"]
        trimmed = [thread_id for thread_id, strategy in expired if strategy == "keep_latest"]
        if doomed:
            await self.delete_threads(doomed)
        if trimmed:
            await checkpoints.keep_latest(self.checkpointer, [str(t) for t in trimmed])
            async with self.db.write() as sql:
                await threads.clear_expiry(sql, trimmed, now)
        return len(expired)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
