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
    ) -> list[ColumnElement[bool]]:
        conditions = [Assistant.graph_id.in_(graph_ids), *self.contains(Assistant.metadata_, metadata)]
        if graph_id is not None:
            conditions.append(Assistant.graph_id == graph_id)
        if name:
            conditions.append(func.lower(Assistant.name).contains(name.lower(), autoescape=True))
        return conditions


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
