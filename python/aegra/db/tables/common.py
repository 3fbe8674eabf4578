"""What the table modules share: JSON containment and auth conditions, pages and counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select

from aegra.db.json_filters import auth_filter, json_contains
from aegra.db.statements import Statements

Filter = dict[str, Any]
Conditions = list[ColumnElement[bool]]


def contains(column: Any, wanted: dict[str, Any] | None, dialect: str) -> Conditions:
    """The rows whose JSON `column` contains `wanted` (none given: every row)."""
    return [json_contains(column, wanted, dialect)] if wanted else []


def allowed(column: Any, filters: Filter | None, dialect: str) -> Conditions:
    """The rows an `@auth.on` handler's filter lets the caller see (none given: every row)."""
    return [auth_filter(column, filters, dialect)] if filters else []


async def page(sql: Statements, statement: Select[Any], *, limit: int, offset: int) -> list[Any]:
    """One page plus one row (see domain/pagination.py)."""
    return await sql.rows(statement.limit(limit + 1).offset(offset))


async def count_where(sql: Statements, table: Table, conditions: Sequence[ColumnElement[bool]]) -> int:
    return int(await sql.scalar(select(func.count()).select_from(table).where(*conditions)) or 0)
