"""SQL for assistants and their versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, func, select

from aegra.db.models import Assistant, AssistantVersion
from aegra.db.repositories.base import RepositoryMixin


class AssistantRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Assistant]):
    model_type = Assistant
    id_attribute = "assistant_id"

    def filters(
        self,
        *,
        graph_ids: Sequence[str],
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        allowed: dict[str, Any] | None = None,
    ) -> list[ColumnElement[bool]]:
        """`allowed`: an `@auth.on` handler's filter over the assistant's metadata."""
        conditions = [
            Assistant.graph_id.in_(graph_ids),
            *self.contains(Assistant.metadata_, metadata),
            *self.allowed(Assistant.metadata_, allowed),
        ]
        if graph_id is not None:
            conditions.append(Assistant.graph_id == graph_id)
        if name:
            conditions.append(func.lower(Assistant.name).contains(name.lower(), autoescape=True))
        return conditions

    async def get_allowed(self, assistant_id: uuid.UUID, allowed: dict[str, Any] | None) -> Assistant | None:
        """The assistant, if it exists and `allowed` (an auth filter) matches it."""
        conditions = [Assistant.assistant_id == assistant_id, *self.allowed(Assistant.metadata_, allowed)]
        return await self.session.scalar(select(Assistant).where(*conditions))


class AssistantVersionRepository(RepositoryMixin, SQLAlchemyAsyncRepository[AssistantVersion]):
    model_type = AssistantVersion

    async def latest_number(self, assistant_id: uuid.UUID) -> int:
        statement = select(func.max(AssistantVersion.version)).where(AssistantVersion.assistant_id == assistant_id)
        return int(await self.session.scalar(statement) or 0)

    async def search(
        self, assistant_id: uuid.UUID, *, metadata: dict[str, Any] | None, limit: int, offset: int
    ) -> list[AssistantVersion]:
        statement = (
            select(AssistantVersion)
            .where(AssistantVersion.assistant_id == assistant_id, *self.contains(AssistantVersion.metadata_, metadata))
            .order_by(AssistantVersion.version.desc())
        )
        return list(await self.session.scalars(statement.limit(limit).offset(offset)))
