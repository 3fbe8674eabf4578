"""Thread rows: loading one by id, turning one into the API's `Thread`, and its TTL columns."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from aegra.auth import Filter
from aegra.db.statements import Statements
from aegra.db.tables import threads
from aegra.domain.schemas import from_row, parse_uuid
from aegra.domain.threads import schemas
from aegra.errors import NotFound


def parse_thread_id(thread_id: str) -> uuid.UUID:
    return parse_uuid(thread_id, "thread ID")


async def require_thread(sql: Statements, thread_id: uuid.UUID, allowed: Filter | None = None) -> Any:
    """The thread; 404 when it does not exist or the caller's auth filter (`allowed`) does not match it."""
    row = await threads.get(sql, thread_id, allowed)
    if row is None:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return row


def to_schema(row: Any, *, include_ttl: bool = False) -> schemas.Thread:
    thread = from_row(schemas.Thread, row)
    if include_ttl and row.ttl_minutes is not None:
        thread.ttl = schemas.ThreadTTL(
            strategy=row.ttl_strategy or "delete", ttl_minutes=row.ttl_minutes, expires_at=row.expires_at
        )
    return thread


def ttl_columns(ttl: float | schemas.TTL | None, now: datetime) -> dict[str, Any]:
    """The TTL columns for a TTL given in a request (none given: nothing changes)."""
    if ttl is None:
        return {}
    minutes, strategy = (ttl.ttl, ttl.strategy) if isinstance(ttl, schemas.TTL) else (float(ttl), "delete")
    return {"ttl_minutes": minutes, "ttl_strategy": strategy, "expires_at": now + timedelta(minutes=minutes)}


def touched(row: Any, now: datetime) -> dict[str, Any]:
    """The columns that mark the thread updated: a TTL counts from the last update."""
    if row.ttl_minutes is None:
        return {"updated_at": now}
    return {"updated_at": now, "expires_at": now + timedelta(minutes=row.ttl_minutes)}
