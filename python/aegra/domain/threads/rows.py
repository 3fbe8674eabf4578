"""Thread rows: loading one by id, and turning one into the API's `Thread`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from aegra.auth import Filter
from aegra.db.models import Thread as ThreadRow
from aegra.db.repositories import ThreadRepository
from aegra.domain.schemas import parse_uuid
from aegra.domain.threads import schemas
from aegra.errors import NotFound


def parse_thread_id(thread_id: str) -> uuid.UUID:
    return parse_uuid(thread_id, "thread ID")


async def require_thread(session: Any, thread_id: uuid.UUID, allowed: Filter | None = None) -> ThreadRow:
    """The thread; 404 when it does not exist or the caller's auth filter (`allowed`) does not match it."""
    row = await ThreadRepository(session=session).get_allowed(thread_id, allowed)
    if row is None:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return row


def to_schema(row: ThreadRow, *, include_ttl: bool = False) -> schemas.Thread:
    thread = schemas.Thread(
        thread_id=row.thread_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        state_updated_at=row.state_updated_at,
        metadata=row.metadata_,
        config=row.config,
        status=row.status,
        values=row.values,
        interrupts=row.interrupts,
    )
    if include_ttl and row.ttl_minutes is not None:
        thread.ttl = schemas.ThreadTTL(
            strategy=row.ttl_strategy or "delete", ttl_minutes=row.ttl_minutes, expires_at=row.expires_at
        )
    return thread


def touch(row: ThreadRow, now: datetime) -> None:
    """Mark the thread updated; a TTL counts from the last update."""
    row.updated_at = now
    if row.ttl_minutes is not None:
        row.expires_at = now + timedelta(minutes=row.ttl_minutes)
