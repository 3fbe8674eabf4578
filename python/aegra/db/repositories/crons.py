"""SQL for crons, including the scheduler's claim of a due cron."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update

from aegra.db.models import Cron, Thread
from aegra.db.repositories.base import RepositoryMixin


class CronRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Cron]):
    model_type = Cron
    id_attribute = "cron_id"

    def filters(
        self,
        *,
        assistant_id: uuid.UUID | None = None,
        thread_id: uuid.UUID | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        allowed: dict[str, Any] | None = None,
        thread_allowed: dict[str, Any] | None = None,
    ) -> list[ColumnElement[bool]]:
        """`allowed`: a `crons` auth filter over the cron's metadata; `thread_allowed`: a `threads`
        one over the metadata of a thread-bound cron's thread (crons without a thread pass)."""
        conditions = [*self.contains(Cron.metadata_, metadata), *self.allowed(Cron.metadata_, allowed)]
        if assistant_id is not None:
            conditions.append(Cron.assistant_id == assistant_id)
        if thread_id is not None:
            conditions.append(Cron.thread_id == thread_id)
        if enabled is not None:
            conditions.append(Cron.enabled == enabled)
        if thread_allowed:
            visible = select(Thread.thread_id).where(
                Thread.thread_id == Cron.thread_id, *self.allowed(Thread.metadata_, thread_allowed)
            )
            conditions.append(or_(Cron.thread_id.is_(None), exists(visible)))
        return conditions

    async def get_allowed(self, cron_id: uuid.UUID, allowed: dict[str, Any] | None) -> Cron | None:
        """The cron, if it exists and `allowed` (an auth filter) matches it."""
        return await self.session.scalar(select(Cron).where(Cron.cron_id == cron_id, *self.filters(allowed=allowed)))

    async def search(
        self, conditions: Sequence[ColumnElement[bool]], *, sort_by: str, descending: bool, limit: int, offset: int
    ) -> list[Cron]:
        column: Any = getattr(Cron, sort_by)
        # Missing end times and threads sort as the smallest values on both backends.
        order = column.desc().nulls_last() if descending else column.asc().nulls_first()
        statement = select(Cron).where(*conditions).order_by(order, Cron.cron_id.asc())
        return await self.page(statement, limit=limit, offset=offset)

    async def delete_allowed(self, cron_id: uuid.UUID, allowed: dict[str, Any] | None) -> bool:
        statement = delete(Cron).where(Cron.cron_id == cron_id, *self.filters(allowed=allowed)).returning(Cron.cron_id)
        return await self.session.scalar(statement) is not None

    @staticmethod
    def _due(now: datetime) -> ColumnElement[bool]:
        return and_(
            Cron.enabled.is_(True),
            Cron.next_run_date <= now,
            or_(Cron.end_time.is_(None), Cron.end_time > now),
        )

    async def due(self, now: datetime, limit: int) -> list[Cron]:
        statement = select(Cron).where(self._due(now)).order_by(Cron.next_run_date).limit(limit)
        return list(await self.session.scalars(statement))

    async def claim(self, cron_id: uuid.UUID, now: datetime, next_run_date: datetime) -> Cron | None:
        """Move a due cron's `next_run_date` on; the cron if this call did it, None if it was no longer due.

        The WHERE re-checks that the cron is due, so of several workers racing for one firing
        exactly one matches: on PostgreSQL the others wait for the row lock, then find the new
        date in the future; on SQLite writers are serialized (BEGIN IMMEDIATE). A PATCH made in
        between (disabled, new schedule) is respected the same way.
        """
        statement = (
            update(Cron)
            .where(Cron.cron_id == cron_id, self._due(now))
            # Firing is not an edit of the cron: keep `updated_at` (the column's onupdate would bump it).
            .values(next_run_date=next_run_date, updated_at=Cron.updated_at)
            .returning(Cron)
        )
        return await self.session.scalar(statement)
