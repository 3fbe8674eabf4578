"""Store items in and out, with the times and TTLs LangGraph's store API does not expose.

Reading takes the rows straight from the store's table (SQLite `store_items`, PostgreSQL `store`).
Writing goes through the target store's own `abatch` puts, so each item is embedded by the
*target's* `store.index` (if any) exactly as a live put would be; vectors are not copied, because
they belong to the embedding model that made them. The original `created_at`, `updated_at` and
`expires_at` are then written back over the ones the puts stamped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from langgraph.store.base import BaseStore, PutOp

from aegra.cli.transfer.backend import is_sqlite_store
from aegra.cli.transfer.records import StoredItem
from aegra.store import namespaces, postgres_store, sqlite_writes


async def read_items(store: BaseStore) -> list[StoredItem]:
    if is_sqlite_store(store):
        return [_from_sqlite(row) for row in await sqlite_writes.export_rows(store.conn)]  # type: ignore[attr-defined]
    return [_from_postgres(row) for row in await postgres_store.export_rows(store)]  # type: ignore[arg-type]


async def write_items(store: BaseStore, items: Sequence[StoredItem]) -> None:
    """Put the items (embedding them if the store has an index), then restore their times."""
    await store.abatch(
        [PutOp(item.namespace, item.key, item.value, index=item.index, ttl=item.ttl_minutes) for item in items]
    )
    if is_sqlite_store(store):
        rows = [
            (
                sqlite_writes.timestamp(item.created_at.astimezone(UTC)),
                sqlite_writes.timestamp(item.updated_at.astimezone(UTC)),
                None if item.expires_at is None else item.expires_at.timestamp(),
                namespaces.to_text(item.namespace),
                item.key,
            )
            for item in items
        ]
        await sqlite_writes.restore_times(store.conn, rows)  # type: ignore[attr-defined]
        return
    params = [
        (item.created_at, item.updated_at, item.expires_at, namespaces.to_text(item.namespace), item.key)
        for item in items
    ]
    await postgres_store.restore_times(store, params)  # type: ignore[arg-type]


def _from_sqlite(row: Sequence[Any]) -> StoredItem:
    prefix, key, value, created_at, updated_at, expires_at, ttl_minutes, index_spec = row
    return StoredItem(
        namespace=namespaces.from_text(prefix),
        key=key,
        value=msgspec.json.decode(value),
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
        expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, UTC),
        ttl_minutes=ttl_minutes,
        index=None if index_spec is None else msgspec.json.decode(index_spec),
    )


def _from_postgres(row: dict[str, Any]) -> StoredItem:
    ttl = row["ttl_minutes"]
    return StoredItem(
        namespace=namespaces.from_text(row["prefix"]),
        key=row["key"],
        value=row["value"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        ttl_minutes=None if ttl is None else float(ttl),
        # LangGraph's PostgreSQL store does not keep a put's `index`: the target's defaults apply.
        index=None,
    )
