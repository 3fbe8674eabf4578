"""The SQLite store's tables and every statement on them: one home for the store's SQL.

The tables live in the server's one `.db` file beside the API and checkpoint tables, so every name
starts with `store_` (and avoids LangGraph's own SqliteStore names, `store` and `store_vectors`,
whose shapes differ):

- `store_items`: one row per item; `store_items_recent` orders them newest first, with the
  namespace beside the order, so a listing walks it and stops at the page's end;
- `store_item_vectors`: the float32 vector of each embedded field (sqlite-vec's BLOB layout), the
  truth that exact scores come from;
- `store_vector_codes`: beside each vector, its int8 code record (`aegra.vec.encode_codes`, a
  quarter of the bytes), what the in-memory index is loaded from;
- `store_meta`: the schema version, the index's dims and whether the codes are complete;
- `store_items_waiting`: the items saved without their vectors because the embedder was
  unavailable, which the background embedder (`backfill.py`) embeds.

Functions take the connection to run on: the store's aiosqlite reader, its inline writer
(`db/inline_sqlite.py`), or the plain `sqlite3` connection of the index loader's thread.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite
import msgspec
import numpy as np
from langgraph.store.base import Item, SearchItem

from aegra.db.inline_sqlite import InlineConnection
from aegra.store import namespaces
from aegra.store.sqlite_connections import OverBudget

# The store writes through an inline connection; `:memory:` through its aiosqlite one.
Connection = aiosqlite.Connection | InlineConnection

SCHEMA_VERSION = 2
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS store_items (
        id INTEGER PRIMARY KEY,
        prefix TEXT NOT NULL,          -- namespace labels joined by '.'
        key TEXT NOT NULL,
        value TEXT NOT NULL,           -- JSON object
        created_at TEXT NOT NULL,      -- ISO 8601, UTC, microseconds
        updated_at TEXT NOT NULL,
        expires_at REAL,               -- unix seconds; NULL = never
        ttl_minutes REAL,
        index_spec TEXT,               -- the put's `index` as JSON (null, false or paths), for re-indexing
        UNIQUE (prefix, key)
    )""",
    # Newest first with the namespace in the entry: a listing under a large prefix walks this index
    # and stops at the page's end, reading the table only for entries under the prefix.
    "CREATE INDEX IF NOT EXISTS store_items_recent ON store_items (updated_at, id, prefix)",
    "DROP INDEX IF EXISTS store_items_updated",  # schema 1's, which store_items_recent replaces
    "CREATE INDEX IF NOT EXISTS store_items_expires ON store_items (expires_at) WHERE expires_at IS NOT NULL",
    # A rowid table (not WITHOUT ROWID): there a 1.5 kB vector fits in the row instead of spilling
    # to overflow pages, which made reading vectors about 5x slower.
    """CREATE TABLE IF NOT EXISTS store_item_vectors (
        item_id INTEGER NOT NULL,      -- store_items.id
        field TEXT NOT NULL,           -- field path the text came from, e.g. 'content' or 'tags.1'
        embedding BLOB NOT NULL,       -- float32 little-endian, sqlite-vec's layout
        UNIQUE (item_id, field)
    )""",
    # Apart from the vectors, so that loading the index reads 400 bytes a vector, not 1,900.
    """CREATE TABLE IF NOT EXISTS store_vector_codes (
        item_id INTEGER NOT NULL,
        field TEXT NOT NULL,
        code BLOB NOT NULL,            -- aegra.vec code record: 16 + dims bytes
        PRIMARY KEY (item_id, field)
    ) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A row per item waiting for its vectors: a restart keeps the list.
    """CREATE TABLE IF NOT EXISTS store_items_waiting (
        item_id INTEGER PRIMARY KEY,   -- store_items.id
        attempts INTEGER NOT NULL DEFAULT 0  -- failed background attempts: the fewest go first
    )""",
)

# ttl_minutes last: reads refresh expiry only for rows that have a TTL, so a plain read never writes.
ITEM_COLUMNS = "id, prefix, key, value, created_at, updated_at, ttl_minutes"
Row = Sequence[Any]


def _item_fields(row: Row) -> dict[str, Any]:
    return {
        "namespace": namespaces.from_text(row[1]),
        "key": row[2],
        "value": msgspec.json.decode(row[3]),
        "created_at": datetime.fromisoformat(row[4]),
        "updated_at": datetime.fromisoformat(row[5]),
    }


def to_item(row: Row) -> Item:
    """LangGraph's `Item` from a row of ITEM_COLUMNS."""
    return Item(**_item_fields(row))


def to_search_item(row: Row, score: float | None) -> SearchItem:
    """LangGraph's `SearchItem` from a row of ITEM_COLUMNS and its score (None: not ranked)."""
    return SearchItem(**_item_fields(row), score=score)


# -- schema and meta ---------------------------------------------------------------------------------


async def create_tables(conn: aiosqlite.Connection) -> None:
    """Create (or bring to this version) the tables; a schema 1 file gets its code table, which the
    index loader fills (`missing_code_vectors`) before the first load."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO store_meta (name, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise


async def read_meta(conn: aiosqlite.Connection, name: str) -> str | None:
    async with conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def write_meta(conn: Any, name: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO store_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


# -- reads ---------------------------------------------------------------------------------------------


def live_condition(alias: str, omit_expired: bool, now: float) -> tuple[str, list[Any]]:
    if omit_expired:
        return f" AND ({alias}.expires_at IS NULL OR {alias}.expires_at > ?)", [now]
    return "", []


def _get_item_sql(prefix: str, key: str, live: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    return f"SELECT {ITEM_COLUMNS} FROM store_items i WHERE prefix = ? AND key = ?{live[0]}", [prefix, key, *live[1]]


async def get_item(conn: aiosqlite.Connection, prefix: str, key: str, live: tuple[str, list[Any]]) -> Row | None:
    async with conn.execute(*_get_item_sql(prefix, key, live)) as cursor:
        return await cursor.fetchone()


def get_item_now(conn: sqlite3.Connection, prefix: str, key: str, live: tuple[str, list[Any]]) -> Row | None:
    """`get_item` on a plain connection (the store's bounded inline reader)."""
    row: Row | None = conn.execute(*_get_item_sql(prefix, key, live)).fetchone()
    return row


# A prefix holding at least this many items is listed by walking store_items_recent (newest first,
# stopping at the page's end); a smaller one by its (prefix, key) range, then sorted.
WALK_FROM_ITEMS = 2000
# Without a filter, a smaller prefix is walked too when the walk reads fewer than this many index
# entries per item of the range: measured at 1M items, an entry of the walk costs ~0.1 us (the
# namespace is checked in the index), an item of the range ~2.5 us (its row read, then sorted).
WALK_ENTRIES_PER_RANGE_ITEM = 25
# A listing that reads a prefix's range of more items than this is not run inline: at ~2.5 us an
# item it would overrun the inline budget.
INLINE_RANGE_ITEMS = 500


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing: items passing `where` (on `store_items i`) under `prefix`, newest first, paged.
    `filtered`: `where` has conditions beyond the prefix (a value filter, expiry)."""

    prefix: Sequence[str]
    where: str
    params: list[Any]
    limit: int
    offset: int
    filtered: bool = True


async def list_items(conn: aiosqlite.Connection, listing: Listing) -> list[Row]:
    """The listing's page.

    Which index serves it is chosen here (`_walks`), from a count that stops at WALK_FROM_ITEMS:
    SQLite's planner cannot know how many items a prefix holds or a filter passes, and picked the
    prefix range and a sort of everything under it (10 ms of CPU at 10k items) where the
    newest-first walk stops after a page."""
    walk = True
    probe = _prefix_probe(listing.prefix)
    if probe is not None:
        async with conn.execute(*probe) as cursor:
            walk = _walks(await cursor.fetchone(), listing)
    async with conn.execute(*_page(not walk, listing)) as cursor:
        return list(await cursor.fetchall())


def list_items_now(conn: sqlite3.Connection, listing: Listing) -> list[Row]:
    """`list_items` on a plain connection (the store's bounded inline reader); `OverBudget` at once
    for a prefix range too large to read inline."""
    probe = _prefix_probe(listing.prefix)
    counts = None if probe is None else conn.execute(*probe).fetchone()
    walk = counts is None or _walks(counts, listing)
    if not walk and counts is not None and counts[0] > INLINE_RANGE_ITEMS:
        raise OverBudget(f"{counts[0]} items to read and sort")
    return conn.execute(*_page(not walk, listing)).fetchall()


def _prefix_probe(prefix: Sequence[str]) -> tuple[str, list[Any]] | None:
    """The statement counting the prefix's items up to WALK_FROM_ITEMS, beside the largest id (the
    items of the whole store, at most); None without a prefix (always walked)."""
    if not prefix:
        return None
    range_sql, range_params = namespaces.prefix_condition(prefix, "prefix")
    sql = (
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM store_items WHERE {range_sql} LIMIT ?)), "
        "(SELECT max(id) FROM store_items)"
    )
    return sql, [*range_params, WALK_FROM_ITEMS]


def _walks(counts: Row | None, listing: Listing) -> bool:
    """Whether to walk store_items_recent rather than read the prefix's range and sort it, from
    (items under the prefix up to WALK_FROM_ITEMS, the largest id)."""
    if counts is None:
        return True
    under, newest = int(counts[0]), int(counts[1] or 0)
    if under >= WALK_FROM_ITEMS:
        return True
    if listing.filtered or under == 0:
        return False  # a filter's pass rate is unknown: a walk could read the whole store
    # Every item under the prefix is on some page: the walk meets one every newest/under entries.
    return (listing.limit + listing.offset) * newest < under * under * WALK_ENTRIES_PER_RANGE_ITEM


def _page(by_range: bool, listing: Listing) -> tuple[str, list[Any]]:
    # `+updated_at` keeps SQLite off store_items_recent for ordering, so the prefix range serves.
    order = "+updated_at DESC, id DESC" if by_range else "updated_at DESC, id DESC"
    hint = "" if by_range else " INDEXED BY store_items_recent"
    sql = f"SELECT {ITEM_COLUMNS} FROM store_items i{hint} WHERE {listing.where} ORDER BY {order} LIMIT ? OFFSET ?"
    return sql, [*listing.params, listing.limit, listing.offset]


async def passing_ids(
    conn: aiosqlite.Connection, where: str, params: Sequence[Any], ids: Sequence[int] | np.ndarray
) -> set[int]:
    """Which of `ids` satisfy `where`: looked up by id (CROSS JOIN keeps that join order)."""
    if not len(ids):
        return set()
    sql = f"SELECT i.id FROM json_each(?) j CROSS JOIN store_items i ON i.id = j.value WHERE {where}"
    async with conn.execute(sql, [_json_ids(ids), *params]) as cursor:
        return {int(row[0]) for row in await cursor.fetchall()}


async def candidate_ids(conn: aiosqlite.Connection, where: str, params: Sequence[Any]) -> np.ndarray:
    """The ids of the items passing `where` as an int64 array, in one row of text: SQLite's
    `group_concat` joins them in C and numpy parses them in C, where a row per id paid Python's
    per-row cost (tuple, int, iterator) - about 40 ms of 100 for 100k ids measured at 1M items."""
    sql = f"SELECT group_concat(id) FROM store_items i WHERE {where}"
    async with conn.execute(sql, list(params)) as cursor:
        row = await cursor.fetchone()
    text = row[0] if row is not None else None
    if not text:
        return np.empty(0, dtype=np.int64)
    # Text mode (`sep`) of fromstring is not deprecated; ids are plain decimal integers.
    return np.fromstring(text, dtype=np.int64, sep=",")


async def unscored_items(
    conn: aiosqlite.Connection, where: str, params: Sequence[Any], blob_size: int, limit: int, offset: int
) -> list[Row]:
    """Items passing `where` that have no vector of the index's size, newest first, paged: they
    follow the scored items of a semantic search."""
    sql = (
        f"SELECT {ITEM_COLUMNS} FROM store_items i WHERE {where} AND NOT EXISTS ("
        "SELECT 1 FROM store_item_vectors v WHERE v.item_id = i.id AND length(v.embedding) = ?) "
        "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?"
    )
    async with conn.execute(sql, [*params, blob_size, limit, offset]) as cursor:
        return list(await cursor.fetchall())


def candidate_vectors(
    conn: sqlite3.Connection, item_ids: Sequence[int] | np.ndarray, dims: int
) -> tuple[np.ndarray, np.ndarray]:
    """For the index's candidates: every float32 vector of size `dims` (the item of each, an
    (n, dims) matrix), to score them. The items' rows are read apart, for the best only
    (`items_by_id`): with them here, a 1% prefix's 70 candidates took 0.50-0.66 ms against
    0.41-0.45 ms for the two statements."""
    sql = (
        "SELECT v.item_id, v.embedding FROM json_each(?) j CROSS JOIN store_item_vectors v "
        "ON v.item_id = j.value WHERE length(v.embedding) = ?"
    )
    rows = conn.execute(sql, [_json_ids(item_ids), 4 * dims]).fetchall()
    owners = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dims)
    return owners, matrix


def items_by_id(conn: sqlite3.Connection, item_ids: Sequence[int]) -> dict[int, Row]:
    """The rows (ITEM_COLUMNS) of the given items, by id."""
    columns = ", ".join("i." + c for c in ITEM_COLUMNS.split(", "))
    sql = f"SELECT {columns} FROM json_each(?) j CROSS JOIN store_items i ON i.id = j.value"
    return {int(row[0]): row for row in conn.execute(sql, [_json_ids(item_ids)]).fetchall()}


async def namespaces_under(conn: aiosqlite.Connection, prefix: Sequence[str], live: tuple[str, list[Any]]) -> list[str]:
    where, params = namespaces.prefix_condition(prefix, "i.prefix")
    sql = f"SELECT DISTINCT prefix FROM store_items i WHERE {where}{live[0]}"
    async with conn.execute(sql, [*params, *live[1]]) as cursor:
        return [row[0] for row in await cursor.fetchall()]


async def items_to_reindex(conn: aiosqlite.Connection) -> list[Row]:
    async with conn.execute("SELECT prefix, key, value, index_spec FROM store_items") as cursor:
        return list(await cursor.fetchall())


def _json_ids(ids: Sequence[int] | np.ndarray) -> str:
    values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    return msgspec.json.encode(values).decode()


# -- writes --------------------------------------------------------------------------------------------

# Many rows a statement: one statement per batch instead of one per item (whose Python and SQLite
# overhead cost more than the row's insert). RETURNING rows come in no promised order: matched by key.
_UPSERT = """
    INSERT INTO store_items (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes, index_spec)
    VALUES {rows}
    ON CONFLICT (prefix, key) DO UPDATE SET
        value = excluded.value, updated_at = excluded.updated_at,
        expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes, index_spec = excluded.index_spec
    RETURNING id, prefix, key
"""
_UPSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"
_UPSERT_ROWS = 500  # 8 parameters a row, far below SQLite's 32,766
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
    """What a committed batch changed, for the in-memory index to follow: each written item's id,
    namespace and code records (none: it has no vector any more), and the ids deleted."""

    items: list[tuple[int, tuple[str, ...], list[bytes]]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


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
            ids = await _upsert(conn, puts, timestamp(now))
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
        ids = _json_ids(old)
        await conn.execute("DELETE FROM store_item_vectors WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
        await conn.execute("DELETE FROM store_vector_codes WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
    rows = [(item_id, name, blob, code) for item_id, vectors in items for name, (blob, code) in vectors.items()]
    if rows:
        await conn.executemany(
            "INSERT INTO store_item_vectors (item_id, field, embedding) VALUES (?, ?, ?)", [r[:3] for r in rows]
        )
        await conn.executemany(
            "INSERT INTO store_vector_codes (item_id, field, code) VALUES (?, ?, ?)",
            [(r[0], r[1], r[3]) for r in rows],
        )


async def _upsert(conn: Connection, writes: Sequence[ItemWrite], now: str) -> list[int | None]:
    """Insert or update the items (distinct keys); their ids, in order."""
    ids: dict[tuple[str, str], int] = {}
    keys: list[tuple[str, str]] = []
    for start in range(0, len(writes), _UPSERT_ROWS):
        chunk = writes[start : start + _UPSERT_ROWS]
        params: list[Any] = []
        for write in chunk:
            prefix = namespaces.to_text(write.namespace)
            keys.append((prefix, write.key))
            value = msgspec.json.encode(write.value).decode()
            index = None if write.index is None else msgspec.json.encode(write.index).decode()
            params += (prefix, write.key, value, now, now, write.expires_at, write.ttl_minutes, index)
        sql = _UPSERT.format(rows=", ".join([_UPSERT_ROW] * len(chunk)))
        async with conn.execute(sql, params) as cursor:
            ids.update(((prefix, key), int(item_id)) for item_id, prefix, key in await cursor.fetchall())
    return [ids[key] for key in keys]


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
    await conn.execute(sql, [now, _json_ids(ids)])


# -- items waiting for their vectors (the background embedder, backfill.py) ---------------------------


async def _clear_waiting(conn: Connection, item_ids: Sequence[int]) -> None:
    if item_ids:
        sql = "DELETE FROM store_items_waiting WHERE item_id IN (SELECT value FROM json_each(?))"
        await conn.execute(sql, (_json_ids(item_ids),))


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
        async with conn.execute(sql, (_json_ids([item[0] for item in items]),)) as cursor:
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
    await conn.execute(sql, (_json_ids(item_ids),))


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


# -- the index loader's reads (a plain sqlite3 connection, in its own thread) ----------------------------

CODES_META = "codes_dims"  # the dims for which every vector has its code record
LOAD_CHUNK = 16_384  # items a chunk: ~7 MB of records at 384 dims, the load's transient memory


def namespaces_by_item(conn: sqlite3.Connection) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
    """Every namespace, and the items sorted by id with the index of their namespace: one row per
    namespace (ids joined in C), not one per item."""
    labels: list[tuple[str, ...]] = []
    id_parts: list[np.ndarray] = []
    space_parts: list[np.ndarray] = []
    for prefix, ids in conn.execute("SELECT prefix, group_concat(id) FROM store_items GROUP BY prefix"):
        parsed = np.fromstring(ids, dtype=np.int64, sep=",")
        id_parts.append(parsed)
        space_parts.append(np.full(len(parsed), len(labels), dtype=np.uint32))
        labels.append(namespaces.from_text(prefix))
    if not labels:
        return [], np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)
    item_ids = np.concatenate(id_parts)
    spaces = np.concatenate(space_parts)
    order = np.argsort(item_ids, kind="stable")
    return labels, item_ids[order], spaces[order]


def code_chunks(conn: sqlite3.Connection, record_size: int, item_ids: np.ndarray) -> Iterator[tuple[np.ndarray, bytes]]:
    """The code records of the index's size, a chunk of items at a time: (item id of each record,
    the records back to back). A chunk holds whole items (a chunk's load sets each of its rows'
    vectors whole): its bounds are every LOAD_CHUNK-th of `item_ids` (sorted). SQLite joins each
    chunk's records and ids in C (`group_concat`, read as bytes): a row per record into Python
    cost 3.5 us each, most of a million-vector load."""
    text_factory = conn.text_factory
    conn.text_factory = bytes
    try:
        bounds = [*item_ids[LOAD_CHUNK - 1 :: LOAD_CHUNK].tolist(), 2**63 - 1]
        last = -(2**63)
        for bound in bounds:
            records, ids = conn.execute(
                "SELECT group_concat(code, x''), group_concat(item_id) FROM store_vector_codes "
                "WHERE item_id > ? AND item_id <= ? AND length(code) = ?",
                (last, bound, record_size),
            ).fetchone()
            last = bound
            if not ids:
                continue
            parsed = np.fromstring(ids, dtype=np.int64, sep=",")
            if len(records) != len(parsed) * record_size:
                raise RuntimeError("store_vector_codes could not be read back whole (not a UTF-8 database?)")
            yield parsed, records
    finally:
        conn.text_factory = text_factory


def code_count(conn: sqlite3.Connection) -> int:
    """How many code records there are, of any size: an upper bound of what a load adds (the room it
    reserves). Without a condition SQLite counts the table's cells without decoding a record: 0.09 s
    at a million records where `WHERE length(code) = ?` took 0.42 s."""
    row = conn.execute("SELECT count(*) FROM store_vector_codes").fetchone()
    return int(row[0])


def codes_complete(conn: sqlite3.Connection, dims: int) -> bool:
    row = conn.execute("SELECT value FROM store_meta WHERE name = ?", (CODES_META,)).fetchone()
    return row is not None and row[0] == str(dims)


def vectors_without_codes(
    conn: sqlite3.Connection, dims: int, after: int, limit: int
) -> list[tuple[int, int, str, bytes]]:
    """Up to `limit` vectors of `dims` past rowid `after` that have no code record (a file from
    before the codes): (rowid, item id, field, BLOB). Run it and `add_codes` in one write
    transaction, so that no put replaces a vector in between."""
    return conn.execute(
        "SELECT v.rowid, v.item_id, v.field, v.embedding FROM store_item_vectors v "
        "WHERE v.rowid > ? AND length(v.embedding) = ? AND NOT EXISTS ("
        "SELECT 1 FROM store_vector_codes c WHERE c.item_id = v.item_id AND c.field = v.field) "
        "ORDER BY v.rowid LIMIT ?",
        (after, 4 * dims, limit),
    ).fetchall()


def add_codes(conn: sqlite3.Connection, rows: Sequence[tuple[int, str, bytes]]) -> None:
    conn.executemany("INSERT INTO store_vector_codes (item_id, field, code) VALUES (?, ?, ?)", rows)


def mark_codes_complete(conn: sqlite3.Connection, dims: int) -> None:
    conn.execute(
        "INSERT INTO store_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (CODES_META, str(dims)),
    )
