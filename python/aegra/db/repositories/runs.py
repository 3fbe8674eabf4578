"""SQL for runs (the executor's claim and the statements of every run live in db/run_statements.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import Select, exists, select, update

from aegra.db.models import Run, Thread, in_flight
from aegra.db.repositories.base import RepositoryMixin


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

    async def inflight(self, thread_id: uuid.UUID) -> list[Run]:
        """The thread's pending and running runs, oldest first.

        Sorted here, not in SQL: with an ORDER BY, SQLite picks the (thread_id, created_at) index
        and walks every run the thread ever had instead of the few in flight.
        """
        statement = select(Run).where(Run.thread_id == thread_id, in_flight(Run.status))
        return sorted(await self.session.scalars(statement), key=lambda run: (run.created_at, run.run_id))

    async def fail_interrupted_by_restart(self, now: datetime) -> list[uuid.UUID]:
        """Runs left `running` by a process that died: they end as `error`, never stay running."""
        statement = (
            update(Run)
            .where(in_flight(Run.status), Run.status == "running")
            .values(
                status="error",
                ended_at=now,
                updated_at=now,
                error={"error": "ServerRestart", "message": "the server stopped while this run was in progress"},
            )
            .returning(Run.run_id)
        )
        return list(await self.session.scalars(statement))
