"""What every repository here adds to advanced-alchemy's: paging and JSON containment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from aegra.db.json_filters import auth_filter, json_contains
from aegra.db.models import Base


class RepositoryMixin:
    session: Any
    model_type: type[Base]

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def contains(self, column: Any, wanted: dict[str, Any] | None) -> list[ColumnElement[bool]]:
        return [json_contains(column, wanted, self.dialect)] if wanted else []

    def allowed(self, column: Any, filters: dict[str, Any] | None) -> list[ColumnElement[bool]]:
        """The rows an `@auth.on` handler's filter lets the caller see (none given: every row)."""
        return [auth_filter(column, filters, self.dialect)] if filters else []

    async def page(self, statement: Select[Any], *, limit: int, offset: int) -> list[Any]:
        """One page plus one row (see domain/pagination.py)."""
        rows = await self.session.scalars(statement.limit(limit + 1).offset(offset))
        return list(rows)

    async def count_where(self, conditions: Sequence[ColumnElement[bool]]) -> int:
        statement = select(func.count()).select_from(self.model_type).where(*conditions)
        return int(await self.session.scalar(statement) or 0)
