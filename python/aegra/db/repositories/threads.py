"""SQL for threads, and for pruning the SQLite checkpointer's tables (no API method does that)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, delete, exists, select

from aegra.db.models import Run, Thread, in_flight, not_idle
from aegra.db.repositories.base import RepositoryMixin


class ThreadRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Thread]):
    model_type = Thread
    id_attribute = "thread_id"

    def filters(
        self,
        *,
        ids: Sequence[uuid.UUID] | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        allowed: dict[str, Any] | None = None,
    ) -> list[ColumnElement[bool]]:
        """`allowed`: an `@auth.on` handler's filter over the thread's metadata."""
        conditions = [
            *self.contains(Thread.metadata_, metadata),
            *self.contains(Thread.values, values),
            *self.allowed(Thread.metadata_, allowed),
        ]
        if ids is not None:
            conditions.append(Thread.thread_id.in_(ids))
        if status is not None:
            conditions.append(Thread.status == status)
            if status != "idle":  # lets SQLite use the partial index (models.in_flight says why)
                conditions.append(not_idle(Thread.status))
        return conditions

    async def search(
        self, conditions: Sequence[ColumnElement[bool]], *, sort_by: str, descending: bool, limit: int, offset: int
    ) -> list[Thread]:
        column: Any = getattr(Thread, sort_by)
        order = [column.desc() if descending else column.asc(), Thread.thread_id.asc()]
        return await self.page(select(Thread).where(*conditions).order_by(*order), limit=limit, offset=offset)

    async def get_allowed(
        self, thread_id: uuid.UUID, allowed: dict[str, Any] | None, *, for_update: bool = False
    ) -> Thread | None:
        """The thread, if it exists and `allowed` (an auth filter) matches it."""
        statement = select(Thread).where(Thread.thread_id == thread_id, *self.allowed(Thread.metadata_, allowed))
        return await self.session.scalar(statement.with_for_update() if for_update else statement)

    async def ids_where(self, conditions: Sequence[ColumnElement[bool]]) -> list[uuid.UUID]:
        return list(await self.session.scalars(select(Thread.thread_id).where(*conditions)))

    async def delete_ids(self, ids: Sequence[uuid.UUID], allowed: dict[str, Any] | None = None) -> list[uuid.UUID]:
        """Delete these threads (their runs and crons go with them, by foreign key); the ids that existed."""
        found = await self.ids_where(self.filters(ids=ids, allowed=allowed))
        if found:
            await self.session.execute(delete(Thread).where(Thread.thread_id.in_(found)))
        return found

    async def has_active_runs(self, thread_id: uuid.UUID) -> bool:
        active = exists().where(Run.thread_id == thread_id, in_flight(Run.status))
        return bool(await self.session.scalar(select(active)))


# `AsyncSqliteSaver` has no `aprune`; these keep each namespace's newest checkpoint (checkpoint ids
# are time-ordered, as the saver itself assumes) and make it a root, in one transaction.
_SQLITE_KEEP_LATEST = (
    """DELETE FROM writes WHERE thread_id = :t AND checkpoint_id NOT IN (
         SELECT MAX(checkpoint_id) FROM checkpoints c WHERE c.thread_id = :t
         AND c.checkpoint_ns = writes.checkpoint_ns)""",
    """DELETE FROM checkpoints WHERE thread_id = :t AND checkpoint_id NOT IN (
         SELECT MAX(checkpoint_id) FROM checkpoints c WHERE c.thread_id = :t
         AND c.checkpoint_ns = checkpoints.checkpoint_ns)""",
    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = :t",
)


async def sqlite_keep_latest_checkpoints(conn: Any, thread_ids: Sequence[str]) -> None:
    """On the connection of an `AsyncSqliteSaver` (hold its lock while calling). The first DELETE
    begins the transaction (BEGIN IMMEDIATE, implicitly) or joins the shared connection's group."""
    try:
        for thread_id in thread_ids:
            for statement in _SQLITE_KEEP_LATEST:
                await conn.execute(statement, {"t": thread_id})
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()
