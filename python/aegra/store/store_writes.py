"""Writing a batch of puts and deletes (or the TTL sweep) in one short `BEGIN IMMEDIATE` transaction.

Embeddings are computed before this runs, so the write lock is held only for the SQL itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import aiosqlite
import msgspec
from langgraph.store.base import PutOp

from aegra.db.inline_sqlite import InlineConnection
from aegra.store import namespaces

# The store writes through an inline connection (AsyncSqliteStore.setup); `:memory:` through its aiosqlite one.
Connection = aiosqlite.Connection | InlineConnection

_UPSERT = """
    INSERT INTO store_items (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes, index_spec)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (prefix, key) DO UPDATE SET
        value = excluded.value, updated_at = excluded.updated_at,
        expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes, index_spec = excluded.index_spec
    RETURNING id
"""


@dataclass(slots=True)
class PreparedPut:
    """One put (value) or delete (value None), with the vectors to store for it by field name."""

    namespace: tuple[str, ...]
    key: str
    value: Mapping[str, Any] | None
    index: Literal[False] | Sequence[str] | None
    expires_at: float | None
    ttl_minutes: float | None
    vectors: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_op(cls, op: PutOp, now: datetime) -> PreparedPut:
        ttl = op.ttl
        expires_at = None if ttl is None else (now + timedelta(minutes=ttl)).timestamp()
        value = None if op.value is None else dict(op.value)
        return cls(op.namespace, op.key, value, op.index, expires_at, ttl)


@dataclass(slots=True)
class Written:
    """What a committed batch changed, for the in-memory vector cache to follow."""

    vectors: list[tuple[int, tuple[str, ...], list[bytes]]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


def timestamp(now: datetime) -> str:
    # Fixed width (always microseconds) so the text sorts in time order.
    return now.isoformat(timespec="microseconds")


async def write_puts(
    conn: Connection, puts: Sequence[PreparedPut], now: datetime, *, vectors_only: bool = False
) -> Written:
    """Apply the puts; with `vectors_only`, replace only the vectors of items that still exist."""
    written = Written()
    await conn.execute("BEGIN IMMEDIATE")
    try:
        if not vectors_only:
            written.deleted = await _delete(conn, [p for p in puts if p.value is None])
        for put in puts:
            if put.value is None:
                continue
            item_id = await (_find_id(conn, put) if vectors_only else _upsert(conn, put, timestamp(now)))
            if item_id is None:
                continue
            await conn.execute("DELETE FROM store_item_vectors WHERE item_id = ?", (item_id,))
            if put.vectors:
                await conn.executemany(
                    "INSERT INTO store_item_vectors (item_id, field, embedding) VALUES (?, ?, ?)",
                    [(item_id, name, blob) for name, blob in put.vectors.items()],
                )
            written.vectors.append((item_id, tuple(put.namespace), list(put.vectors.values())))
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return written


async def _upsert(conn: Connection, put: PreparedPut, now: str) -> int:
    value = msgspec.json.encode(put.value).decode()
    index = None if put.index is None else msgspec.json.encode(put.index).decode()
    params = (namespaces.to_text(put.namespace), put.key, value, now, now, put.expires_at, put.ttl_minutes, index)
    async with conn.execute(_UPSERT, params) as cursor:
        row = await cursor.fetchone()
    assert row is not None  # RETURNING always yields the upserted row
    return int(row[0])


async def _find_id(conn: Connection, put: PreparedPut) -> int | None:
    sql = "SELECT id FROM store_items WHERE prefix = ? AND key = ?"
    async with conn.execute(sql, (namespaces.to_text(put.namespace), put.key)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def _delete(conn: Connection, deletes: Sequence[PreparedPut]) -> list[int]:
    """Delete the items and their vectors; returns the ids that were deleted."""
    deleted: list[int] = []
    keys_by_prefix: dict[str, list[str]] = defaultdict(list)
    for put in deletes:
        keys_by_prefix[namespaces.to_text(put.namespace)].append(put.key)
    for prefix, keys in keys_by_prefix.items():
        params = (prefix, msgspec.json.encode(keys).decode())
        ids = "SELECT id FROM store_items WHERE prefix = ? AND key IN (SELECT value FROM json_each(?))"
        async with conn.execute(ids, params) as cursor:
            deleted += [int(row[0]) for row in await cursor.fetchall()]
        await conn.execute(f"DELETE FROM store_item_vectors WHERE item_id IN ({ids})", params)
        await conn.execute(
            "DELETE FROM store_items WHERE prefix = ? AND key IN (SELECT value FROM json_each(?))", params
        )
    return deleted


async def delete_expired(conn: Connection, now: float) -> list[int]:
    """Delete the items whose TTL ran out before `now` (a timestamp), with their vectors; their ids."""
    expired_sql = "SELECT id FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= ?"
    await conn.execute("BEGIN IMMEDIATE")
    try:
        async with conn.execute(expired_sql, [now]) as cursor:
            expired = [int(row[0]) for row in await cursor.fetchall()]
        await conn.execute(f"DELETE FROM store_item_vectors WHERE item_id IN ({expired_sql})", [now])
        await conn.execute("DELETE FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= ?", [now])
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return expired
