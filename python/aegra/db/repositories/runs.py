"""SQL for runs, including the executor's claim of the next runnable run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import Select, exists, select, update

from aegra.db.models import Run, Thread
from aegra.db.repositories.base import RepositoryMixin

INFLIGHT = ("pending", "running")


class RunRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Run]):
    model_type = Run
    id_attribute = "run_id"

    def through_thread(self, statement: Select[Any], allowed: dict[str, Any] | None) -> Select[Any]:
        """Only runs whose thread's metadata `allowed` (an auth filter) matches: runs belong to their thread."""
        if not allowed:
            return statement
        visible = select(Thread.thread_id).where(
            Thread.thread_id == Run.thread_id, *self.allowed(Thread.metadata_, allowed)
        )
        return statement.where(exists(visible))

    async def get_allowed(self, run_id: uuid.UUID, allowed: dict[str, Any] | None) -> Run | None:
        return await self.session.scalar(self.through_thread(select(Run).where(Run.run_id == run_id), allowed))

    async def claim_next(self, now: datetime) -> Run | None:
        """Mark the oldest due pending run `running`, unless its thread already runs one.

        On SQLite the caller's write transaction (BEGIN IMMEDIATE) makes this atomic; on
        PostgreSQL `SKIP LOCKED` lets several workers claim different runs at once.
        """
        busy_threads = select(Run.thread_id).where(Run.status == "running")
        statement = (
            select(Run)
            .where(Run.status == "pending", Run.created_at <= now, Run.thread_id.not_in(busy_threads))
            .order_by(Run.created_at, Run.run_id)
            .limit(1)
        )
        if self.dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        run = await self.session.scalar(statement)
        if run is not None:
            run.status, run.started_at, run.updated_at = "running", now, now
            run.attempt += 1
        return run

    async def inflight(self, thread_id: uuid.UUID) -> list[Run]:
        """The thread's pending and running runs, oldest first.

        Sorted here, not in SQL: with an ORDER BY, SQLite picks the (thread_id, created_at) index
        and walks every run the thread ever had instead of the few in flight.
        """
        statement = select(Run).where(Run.thread_id == thread_id, Run.status.in_(INFLIGHT))
        return sorted(await self.session.scalars(statement), key=lambda run: (run.created_at, run.run_id))

    async def fail_interrupted_by_restart(self, now: datetime) -> list[uuid.UUID]:
        """Runs left `running` by a process that died: they end as `error`, never stay running."""
        statement = (
            update(Run)
            .where(Run.status == "running")
            .values(
                status="error",
                ended_at=now,
                updated_at=now,
                error={"error": "ServerRestart", "message": "the server stopped while this run was in progress"},
            )
            .returning(Run.run_id)
        )
        return list(await self.session.scalars(statement))
