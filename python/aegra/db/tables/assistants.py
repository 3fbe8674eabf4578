"""Every statement on `assistants` and `assistant_versions`.

Every create or update of an assistant adds a version row; the assistant row mirrors the
version that is current (`version`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from aegra.db.models import Assistant, AssistantVersion, table
from aegra.db.statements import FullInsert, Prepared, Statements, select_rows
from aegra.db.tables.common import Conditions, Filter, allowed, contains, count_where, page

_assistants = table(Assistant)
_a = _assistants.c
_versions = table(AssistantVersion)
_v = _versions.c

INSERT = FullInsert(_assistants)
INSERT_VERSION = FullInsert(_versions)
_ROW = select_rows(_assistants)
_BY_ID = _ROW.where(_a.assistant_id == bindparam("assistant_id"))
BY_ID = Prepared(_BY_ID)
# What a run is built from: only these columns (run_lifecycle.FOR_CREATION reads it with the run's thread).
FOR_RUN_SELECT = select(_a.assistant_id, _a.graph_id, _a.config, _a.context, _a.metadata).where(
    _a.assistant_id == bindparam("assistant_id")
)
_VERSION_FIELDS = ("graph_id", "name", "description", "config", "context", "metadata")


async def get(sql: Statements, assistant_id: uuid.UUID, allowed_by: Filter | None = None) -> Any | None:
    """The assistant, if it exists and `allowed_by` (an auth filter over its metadata) matches it."""
    if not allowed_by:
        return await sql.first(BY_ID, {"assistant_id": assistant_id})
    statement = _BY_ID.where(*allowed(_a.metadata, allowed_by, sql.dialect))
    return await sql.first(statement, {"assistant_id": assistant_id})


async def insert(sql: Statements, values: dict[str, Any]) -> None:
    """A new assistant at version 1 (columns by name), and that version."""
    await sql.insert(INSERT, {**values, "version": 1})
    await sql.insert(INSERT_VERSION, {**values, "version": 1})


async def add_version(sql: Statements, assistant_id: uuid.UUID, fields: dict[str, Any], now: Any) -> int:
    """Record a new version with these fields and make it the assistant's current one."""
    latest = await sql.scalar(select(func.max(_v.version)).where(_v.assistant_id == assistant_id))
    version = int(latest or 0) + 1
    await sql.insert(INSERT_VERSION, {**fields, "assistant_id": assistant_id, "version": version, "created_at": now})
    await set_current(sql, assistant_id, {**fields, "version": version, "updated_at": now})
    return version


async def set_current(sql: Statements, assistant_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Set these columns (by name) of the assistant row."""
    await sql.execute(update(_assistants).where(_a.assistant_id == assistant_id).values(values))


async def version(sql: Statements, assistant_id: uuid.UUID, number: int) -> dict[str, Any] | None:
    """The fields of one version (`graph_id, name, description, config, context, metadata`)."""
    statement = select(*(_v[name] for name in _VERSION_FIELDS)).where(
        _v.assistant_id == assistant_id, _v.version == number
    )
    row = await sql.first(statement)
    return None if row is None else dict(zip(_VERSION_FIELDS, row, strict=True))


async def delete_one(sql: Statements, assistant_id: uuid.UUID, allowed_by: Filter | None) -> bool:
    """Delete the assistant (its versions and crons go with it, by foreign key) if `allowed_by` matches."""
    statement = (
        delete(_assistants)
        .where(_a.assistant_id == assistant_id, *allowed(_a.metadata, allowed_by, sql.dialect))
        .returning(_a.assistant_id)
    )
    return await sql.first(statement) is not None


def filters(dialect: str, *, graph_ids: Sequence[str], graph_id: str | None = None, name: str | None = None,
            metadata: dict[str, Any] | None = None, allowed_by: Filter | None = None) -> Conditions:  # fmt: skip
    """What assistant searches filter on (only assistants of the configured `graph_ids` exist)."""
    conditions = [
        _a.graph_id.in_(graph_ids),
        *contains(_a.metadata, metadata, dialect),
        *allowed(_a.metadata, allowed_by, dialect),
    ]
    if graph_id is not None:
        conditions.append(_a.graph_id == graph_id)
    if name:
        conditions.append(func.lower(_a.name).contains(name.lower(), autoescape=True))
    return conditions


# Sorted case-insensitively, as langgraph-api does.
_SORT_CASE_INSENSITIVE = {"name", "graph_id"}


async def count(sql: Statements, conditions: Conditions) -> int:
    return await count_where(sql, _assistants, conditions)


async def search(sql: Statements, conditions: Conditions, *, sort_by: str, descending: bool, limit: int,
                 offset: int) -> list[Any]:  # fmt: skip
    column: Any = _a[sort_by]
    if sort_by in _SORT_CASE_INSENSITIVE:
        column = func.lower(column)
    order = [column.desc() if descending else column.asc(), _a.assistant_id.asc()]
    return await page(sql, _ROW.where(*conditions).order_by(*order), limit=limit, offset=offset)


async def versions(sql: Statements, assistant_id: uuid.UUID, *, metadata: dict[str, Any] | None, limit: int,
                   offset: int) -> list[Any]:  # fmt: skip
    """A page of the assistant's versions, newest first (exactly `limit` rows, no look-ahead)."""
    statement = (
        select_rows(_versions)
        .where(_v.assistant_id == assistant_id, *contains(_v.metadata, metadata, sql.dialect))
        .order_by(_v.version.desc())
        .limit(limit)
        .offset(offset)
    )
    return await sql.rows(statement)
