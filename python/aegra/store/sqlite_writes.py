"""The SQLite store's writes (tables and reads: `sqlite_tables.py`): puts and deletes in one
transaction per batch, with their vectors and code records; TTL sweeps and refreshes; the items
waiting for their vectors (their marks, the background embedder's claims and saves); and the
times `aegra db export|import` carry over.

Functions take the connection to run on: the store's inline writer (`db/inline_sqlite.py`) or,
for `:memory:`, its aiosqlite one.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite
import msgspec

from aegra.store import namespaces
from aegra.store.sqlite_tables import Connection, Row, json_ids

# -- writes --------------------------------------------------------------------------------------------

# Many rows a statement: one statement per batch instead of one per item (whose Python and SQLite
# overhead cost more than the row's insert). Each new row is given its id (`_upsert`), so that no
# RETURNING is needed: SQLite buffers RETURNING rows, which cost ~1 us an item of a fill.
_UPSERT = """
    INSERT INTO store_items (id, prefix, key, value, created_at, updated_at, expires_at, ttl_minutes, index_spec)
    VALUES {rows}
    ON CONFLICT (prefix, key) DO UPDATE SET
        value = excluded.value, updated_at = excluded.updated_at,
        expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes, index_spec = excluded.index_spec
"""
_UPSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS = 500  # rows a statement: 9 parameters a row at most, far below SQLite's 32,766
_INSERT_VECTORS = "INSERT INTO store_item_vectors (item_id, field, embedding) VALUES {rows}"
_INSERT_CODES = "INSERT INTO store_vector_codes (item_id, field, code) VALUES {rows}"
# The ids of items by (prefix, key), for a batch that overwrote some (`_upsert`).
_IDS_BY_KEY = (
    "SELECT i.id, i.prefix, i.key FROM json_each(?) j JOIN store_items i "
    "ON i.prefix = json_extract(j.value, '$[0]') AND i.key = json_extract(j.value, '$[1]')"
)
_ITEM_IDS = "SELECT id FROM store_items WHERE prefix = ? AND key IN (SELECT value FROM json_each(?))"


@dataclass(slots=True)
class ItemWrite:
    """One put (value) or delete (value None), with the vector and code record to store for it by
    field name. An item whose vectors are not computed yet would be written with none and a
    "waiting" mark, its vectors later through `replace_vectors` (issue 19's path)."""

    namespace: tuple[str, ...]
    key: str
    value: Any
    index: Any
    expires_at: float | None
    ttl_minutes: float | None
    vectors: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # field -> (float32 BLOB, code record)
    waiting: bool = False  # saved without its vectors: the embedder was unavailable


@dataclass(slots=True)
class Written:
    """What a committed batch changed, for the in-memory indexes to follow: each written item's id,
    namespace and code records (none: it has no vector any more), the ids deleted, and the value
    JSON of each item put (none for a batch that replaced vectors only)."""

    items: list[tuple[int, tuple[str, ...], list[bytes]]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    values: list[tuple[int, str]] = field(default_factory=list)


def timestamp(now: datetime) -> str:
    # Fixed width (always microseconds) so the text sorts in time order.
    return now.isoformat(timespec="microseconds")


async def write_items(
    conn: Connection,
    writes: Sequence[ItemWrite],
    now: datetime,
    *,
    vectors_only: bool = False,
    clear_waiting: bool = True,
) -> Written:
    """Apply the writes in one `BEGIN IMMEDIATE` transaction; with `vectors_only`, replace only the
    vectors of items that still exist (re-indexing). Puts marked `waiting` get their mark; the
    others lose theirs (`clear_waiting=False`: the caller knows that no item waits)."""
    written = Written()
    await conn.execute("BEGIN IMMEDIATE")
    try:
        if not vectors_only:
            written.deleted = await _delete(conn, [w for w in writes if w.value is None])
        puts = [w for w in writes if w.value is not None]
        newest: int | None = None
        if vectors_only:
            ids = [await _find_id(conn, w) for w in puts]
        else:
            newest = await _newest_id(conn)
            ids, texts = await _upsert(conn, puts, timestamp(now), newest)
            written.values = [(item_id, text) for item_id, text in zip(ids, texts, strict=True) if item_id is not None]
        kept = [(item_id, w) for item_id, w in zip(ids, puts, strict=True) if item_id is not None]
        await replace_vectors(conn, [(item_id, w.vectors) for item_id, w in kept], new_above=newest)
        if not vectors_only:
            if clear_waiting:
                await _clear_waiting(conn, [item_id for item_id, w in kept if not w.waiting])
            marked = [(item_id,) for item_id, w in kept if w.waiting]
            if marked:
                await conn.executemany(
                    "INSERT INTO store_items_waiting (item_id) VALUES (?) "
                    "ON CONFLICT (item_id) DO UPDATE SET attempts = 0",
                    marked,
                )
        written.items = [(item_id, w.namespace, [code for _, code in w.vectors.values()]) for item_id, w in kept]
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return written


async def replace_vectors(
    conn: Connection, items: Sequence[tuple[int, dict[str, tuple[bytes, bytes]]]], *, new_above: int | None = None
) -> None:
    """Inside a transaction: the items' vectors and code records become exactly these (a batch of
    statements, not a few per item). `new_above`: the items with a larger id were inserted by this
    transaction, so they have no vectors to delete (a fill's batches need no DELETE at all)."""
    if not items:
        return
    old = [item_id for item_id, _ in items if new_above is None or item_id <= new_above]
    if old:
        ids = json_ids(old)
        await conn.execute("DELETE FROM store_item_vectors WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
        await conn.execute("DELETE FROM store_vector_codes WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
    vector_params: list[Any] = []
    code_params: list[Any] = []
    for item_id, vectors in items:
        for name, (blob, code) in vectors.items():
            vector_params += (item_id, name, blob)
            code_params += (item_id, name, code)
    await _insert_rows(conn, _INSERT_VECTORS, vector_params, 3)
    await _insert_rows(conn, _INSERT_CODES, code_params, 3)


async def _insert_rows(conn: Connection, sql: str, params: list[Any], width: int) -> None:
    """`sql` (an INSERT whose VALUES are `{rows}`) for the rows of `width` parameters in `params`,
    many rows a statement: one multi-row INSERT cost ~1.2 us an item less than `executemany` of
    the same vectors and code records (one statement step instead of one per row)."""
    per_statement = _ROWS * width
    for start in range(0, len(params), per_statement):
        chunk = params[start : start + per_statement]
        await conn.execute(_rows_sql(sql, len(chunk) // width, width), chunk)


@functools.lru_cache(maxsize=64)
def _rows_sql(sql: str, rows: int, width: int) -> str:
    row = "(" + ", ".join(["?"] * width) + ")"
    return sql.format(rows=", ".join([row] * rows))


async def _upsert(
    conn: Connection, writes: Sequence[ItemWrite], now: str, newest: int
) -> tuple[list[int | None], list[str]]:
    """Insert or update the items (distinct keys); their ids and value JSON texts, in order.
    `newest`: the largest id before (`_newest_id`). The put at position `i` is inserted, if new,
    as id `newest + 1 + i` (what SQLite would pick for an all-new batch); an existing item keeps
    its id. When every row is new (a count of the ids above `newest` says so) the ids are known
    without reading them; otherwise the overwritten items' ids are read by key."""
    texts: list[str] = []
    if not writes:
        return [], texts
    for start in range(0, len(writes), _ROWS):
        chunk = writes[start : start + _ROWS]
        params: list[Any] = []
        item_id = newest + start
        for write in chunk:
            item_id += 1
            value = msgspec.json.encode(write.value).decode()
            texts.append(value)
            index = None if write.index is None else msgspec.json.encode(write.index).decode()
            params += (item_id, namespaces.to_text(write.namespace), write.key, value, now, now,
                       write.expires_at, write.ttl_minutes, index)  # fmt: skip
        await conn.execute(_rows_sql(_UPSERT, len(chunk), 9), params)
    first = newest + 1
    async with conn.execute("SELECT count(*) FROM store_items WHERE id >= ?", (first,)) as cursor:
        row = await cursor.fetchone()
    if row is not None and row[0] == len(writes):
        return list(range(first, first + len(writes))), texts
    async with conn.execute("SELECT id FROM store_items WHERE id >= ?", (first,)) as cursor:
        inserted = {int(row[0]) for row in await cursor.fetchall()}
    ids: list[int | None] = [first + i if first + i in inserted else None for i in range(len(writes))]
    keys = [[namespaces.to_text(w.namespace), w.key] for w, item_id in zip(writes, ids, strict=True) if item_id is None]
    async with conn.execute(_IDS_BY_KEY, (msgspec.json.encode(keys).decode(),)) as cursor:
        found = {(prefix, key): int(item_id) for item_id, prefix, key in await cursor.fetchall()}
    for i, write in enumerate(writes):
        if ids[i] is None:
            ids[i] = found[(namespaces.to_text(write.namespace), write.key)]
    return ids, texts


async def _newest_id(conn: Connection) -> int:
    """The largest item id, read inside the write transaction before its inserts: ids above it are
    rows the transaction inserts (an INTEGER PRIMARY KEY without AUTOINCREMENT takes max + 1, and
    every delete of an item deletes its vectors in the same transaction, so no vector row waits
    under a reused id)."""
    async with conn.execute("SELECT max(id) FROM store_items") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


async def _find_id(conn: Connection, write: ItemWrite) -> int | None:
    sql = "SELECT id FROM store_items WHERE prefix = ? AND key = ?"
    async with conn.execute(sql, (namespaces.to_text(write.namespace), write.key)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def _delete(conn: Connection, deletes: Sequence[ItemWrite]) -> list[int]:
    """Delete the items, their vectors and codes; returns the ids that were deleted."""
    deleted: list[int] = []
    keys_by_prefix: dict[str, list[str]] = defaultdict(list)
    for write in deletes:
        keys_by_prefix[namespaces.to_text(write.namespace)].append(write.key)
    for prefix, keys in keys_by_prefix.items():
        params = (prefix, msgspec.json.encode(keys).decode())
        async with conn.execute(_ITEM_IDS, params) as cursor:
            deleted += [int(row[0]) for row in await cursor.fetchall()]
        await conn.execute(f"DELETE FROM store_item_vectors WHERE item_id IN ({_ITEM_IDS})", params)
        await conn.execute(f"DELETE FROM store_vector_codes WHERE item_id IN ({_ITEM_IDS})", params)
        await conn.execute(
            "DELETE FROM store_items WHERE prefix = ? AND key IN (SELECT value FROM json_each(?))", params
        )
    await _clear_waiting(conn, deleted)
    return deleted


async def delete_expired(conn: Connection, now: float) -> list[int]:
    """Delete the items whose TTL ran out before `now` (a timestamp), with their vectors; their ids."""
    expired_sql = "SELECT id FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= ?"
    await conn.execute("BEGIN IMMEDIATE")
    try:
        async with conn.execute(expired_sql, [now]) as cursor:
            expired = [int(row[0]) for row in await cursor.fetchall()]
        await conn.execute(f"DELETE FROM store_item_vectors WHERE item_id IN ({expired_sql})", [now])
        await conn.execute(f"DELETE FROM store_vector_codes WHERE item_id IN ({expired_sql})", [now])
        await conn.execute("DELETE FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= ?", [now])
        await _clear_waiting(conn, expired)
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return expired


async def refresh_ttl(conn: Connection, ids: Sequence[int], now: float) -> None:
    sql = (
        "UPDATE store_items SET expires_at = ? + ttl_minutes * 60 "
        "WHERE ttl_minutes IS NOT NULL AND id IN (SELECT value FROM json_each(?))"
    )
    await conn.execute(sql, [now, json_ids(ids)])


# -- items waiting for their vectors (the background embedder, backfill.py) ---------------------------


async def _clear_waiting(conn: Connection, item_ids: Sequence[int]) -> None:
    if item_ids:
        sql = "DELETE FROM store_items_waiting WHERE item_id IN (SELECT value FROM json_each(?))"
        await conn.execute(sql, (json_ids(item_ids),))


async def any_waiting(conn: aiosqlite.Connection) -> bool:
    async with conn.execute("SELECT EXISTS (SELECT 1 FROM store_items_waiting)") as cursor:
        row = await cursor.fetchone()
    return bool(row and row[0])


async def count_waiting(conn: aiosqlite.Connection, prefix: Sequence[str]) -> int:
    """How many items under `prefix` wait for their vectors."""
    where, params = namespaces.prefix_condition(prefix, "i.prefix")
    sql = f"SELECT count(*) FROM store_items_waiting w JOIN store_items i ON i.id = w.item_id WHERE {where}"
    async with conn.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def claim_waiting(conn: aiosqlite.Connection, limit: int) -> list[Row]:
    """Up to `limit` waiting items, fewest failed attempts first: (id, prefix, key, value,
    index_spec, updated_at); `updated_at` tells at saving time whether the item was written since."""
    sql = (
        "SELECT i.id, i.prefix, i.key, i.value, i.index_spec, i.updated_at FROM store_items_waiting w "
        "JOIN store_items i ON i.id = w.item_id ORDER BY w.attempts, w.item_id LIMIT ?"
    )
    async with conn.execute(sql, (limit,)) as cursor:
        return list(await cursor.fetchall())


async def save_waiting_vectors(
    conn: Connection, items: Sequence[tuple[int, str, tuple[str, ...], dict[str, tuple[bytes, bytes]]]]
) -> Written:
    """(item id, its `updated_at` when claimed, namespace, vectors): in one transaction, the vectors
    of the items still waiting and not written since, and their marks cleared. An item written
    again meanwhile keeps what that write left (its own vectors, or a fresh mark)."""
    written = Written()
    await conn.execute("BEGIN IMMEDIATE")
    try:
        sql = (
            "SELECT w.item_id, i.updated_at FROM store_items_waiting w JOIN store_items i ON i.id = w.item_id "
            "WHERE w.item_id IN (SELECT value FROM json_each(?))"
        )
        async with conn.execute(sql, (json_ids([item[0] for item in items]),)) as cursor:
            current = {int(row[0]): row[1] for row in await cursor.fetchall()}
        kept = [item for item in items if current.get(item[0]) == item[1]]
        await replace_vectors(conn, [(item_id, vectors) for item_id, _, _, vectors in kept])
        await _clear_waiting(conn, [item[0] for item in kept])
        written.items = [(item_id, ns, [code for _, code in vectors.values()]) for item_id, _, ns, vectors in kept]
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return written


async def count_failed_attempt(conn: Connection, item_ids: Sequence[int]) -> None:
    sql = "UPDATE store_items_waiting SET attempts = attempts + 1 WHERE item_id IN (SELECT value FROM json_each(?))"
    await conn.execute(sql, (json_ids(item_ids),))


# -- export and import (`aegra db export|import`) ------------------------------------------------------


async def export_rows(conn: aiosqlite.Connection) -> list[Row]:
    """Every item with what LangGraph's API does not expose (times, TTL, the put's `index`)."""
    sql = (
        "SELECT prefix, key, value, created_at, updated_at, expires_at, ttl_minutes, index_spec "
        "FROM store_items ORDER BY prefix, key"
    )
    async with conn.execute(sql) as cursor:
        return list(await cursor.fetchall())


async def restore_times(conn: Connection, rows: Sequence[tuple[str, str, float | None, str, str]]) -> None:
    """(created_at, updated_at, expires_at, prefix, key): the times of imported items."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.executemany(
            "UPDATE store_items SET created_at = ?, updated_at = ?, expires_at = ? WHERE prefix = ? AND key = ?", rows
        )
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
