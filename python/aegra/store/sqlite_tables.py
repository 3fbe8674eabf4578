"""The SQLite store's tables, their rows as LangGraph's items, and the reads: with
`sqlite_writes.py` (puts, deletes, TTLs, the waiting items) and `sqlite_codes.py` (what the
index loads from), the one home of the store's SQL.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite
import msgspec
import numpy as np
from langgraph.store.base import Item, SearchItem

from aegra.db.inline_sqlite import InlineConnection
from aegra.store import namespaces

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


def to_item(row: Row) -> Item:
    """LangGraph's `Item` from a row of ITEM_COLUMNS."""
    return Item(
        namespace=namespaces.from_text(row[1]),
        key=row[2],
        value=msgspec.json.decode(row[3]),
        created_at=datetime.fromisoformat(row[4]),
        updated_at=datetime.fromisoformat(row[5]),
    )


def to_search_item(row: Row, score: float | None) -> SearchItem:
    """LangGraph's `SearchItem` from a row of ITEM_COLUMNS and its score (None: not ranked).
    Positional: a page's ten items built through a dict of keywords cost ~20 us more."""
    decode, parse = msgspec.json.decode, datetime.fromisoformat
    return SearchItem(namespaces.from_text(row[1]), row[2], decode(row[3]), parse(row[4]), parse(row[5]), score)


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


# -- listings (the plan is chosen in `sqlite_reads.py`) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing: items passing `where` (on `store_items i`, without the namespace condition)
    under `prefix`, newest first, paged. `filtered`: `where` has conditions (a value filter, expiry)."""

    prefix: Sequence[str]
    where: str
    params: list[Any]
    limit: int
    offset: int
    filtered: bool = True


def prefix_probe(prefix: Sequence[str], *, count: bool = True) -> tuple[str, list[Any]]:
    """The statement giving (the largest id: the items of the whole store at most, whether the
    namespace `prefix` holds items, whether some namespace lies below it, and with `count` the
    prefix's items counted up to `limit`: its one parameter left to append)."""
    text = namespaces.to_text(prefix)
    sql = (
        "SELECT (SELECT max(id) FROM store_items), "
        "EXISTS (SELECT 1 FROM store_items WHERE prefix = ?), "
        "EXISTS (SELECT 1 FROM store_items WHERE prefix >= ? AND prefix < ?)"
    )
    params: list[Any] = [text, text + namespaces.SEPARATOR, text + namespaces.AFTER_SEPARATOR]
    if count:
        range_sql, range_params = namespaces.prefix_condition(prefix, "prefix")
        sql += f", (SELECT count(*) FROM (SELECT 1 FROM store_items WHERE {range_sql} LIMIT ?))"
        params += range_params
    return sql, params


def listing_page(listing: Listing, *, by_range: bool, at: bool = True, below: bool = True) -> tuple[str, list[Any]]:
    """The page's statement: by the prefix's `(prefix, key)` range then sorted (`by_range`), else by
    walking store_items_recent newest first, which stops at the page's end. `at`, `below`: whether
    the namespace `prefix` itself holds items, and namespaces below it do: a walk tests an entry's
    namespace only for what is there (at 1M items, `prefix = ?` 0.08 us an entry, the range below
    0.13, both 0.15)."""
    text = namespaces.to_text(listing.prefix)
    if not listing.prefix:
        namespace, namespace_params = "1", []
    elif at and not below:
        namespace, namespace_params = "i.prefix = ?", [text]
    elif below and not at:
        namespace, namespace_params = (
            "i.prefix >= ? AND i.prefix < ?",
            [text + namespaces.SEPARATOR, text + namespaces.AFTER_SEPARATOR],
        )
    else:
        namespace, namespace_params = namespaces.prefix_condition(listing.prefix, "i.prefix")
    # `+updated_at` keeps SQLite off store_items_recent for ordering, so the prefix range serves.
    order = "+updated_at DESC, id DESC" if by_range else "updated_at DESC, id DESC"
    hint = "" if by_range else " INDEXED BY store_items_recent"
    sql = (
        f"SELECT {ITEM_COLUMNS} FROM store_items i{hint} WHERE {namespace}{listing.where} "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )
    return sql, [*namespace_params, *listing.params, listing.limit, listing.offset]


async def passing_ids(
    conn: aiosqlite.Connection, where: str, params: Sequence[Any], ids: Sequence[int] | np.ndarray
) -> set[int]:
    """Which of `ids` satisfy `where`: looked up by id (CROSS JOIN keeps that join order)."""
    if not len(ids):
        return set()
    sql = f"SELECT i.id FROM json_each(?) j CROSS JOIN store_items i ON i.id = j.value WHERE {where}"
    async with conn.execute(sql, [json_ids(ids), *params]) as cursor:
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


def field_value_groups(conn: sqlite3.Connection, path: str, limit: int) -> list[tuple[str | None, np.ndarray]]:
    """For the value index (`value_postings.py`): the distinct JSON texts of a top-level field (None:
    missing) with the ids of the items holding each, at most `limit` groups, in one read
    transaction of `conn`. `->` gives the value's JSON text as written, so Python decodes it as
    the filter's SQL function decodes the whole value. ~1.4 s of CPU at a million items."""
    sql = "SELECT i.value -> ? AS v, group_concat(i.id) FROM store_items i GROUP BY v LIMIT ?"
    rows = conn.execute(sql, [path, limit]).fetchall()
    return [(text, np.fromstring(ids, dtype=np.int64, sep=",")) for text, ids in rows]


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
    rows = conn.execute(sql, [json_ids(item_ids), 4 * dims]).fetchall()
    owners = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dims)
    return owners, matrix


def items_by_id(conn: sqlite3.Connection, item_ids: Sequence[int]) -> dict[int, Row]:
    """The rows (ITEM_COLUMNS) of the given items, by id."""
    columns = ", ".join("i." + c for c in ITEM_COLUMNS.split(", "))
    sql = f"SELECT {columns} FROM json_each(?) j CROSS JOIN store_items i ON i.id = j.value"
    return {int(row[0]): row for row in conn.execute(sql, [json_ids(item_ids)]).fetchall()}


async def namespaces_under(conn: aiosqlite.Connection, prefix: Sequence[str], live: tuple[str, list[Any]]) -> list[str]:
    where, params = namespaces.prefix_condition(prefix, "i.prefix")
    sql = f"SELECT DISTINCT prefix FROM store_items i WHERE {where}{live[0]}"
    async with conn.execute(sql, [*params, *live[1]]) as cursor:
        return [row[0] for row in await cursor.fetchall()]


async def items_to_reindex(conn: aiosqlite.Connection) -> list[Row]:
    async with conn.execute("SELECT prefix, key, value, index_spec FROM store_items") as cursor:
        return list(await cursor.fetchall())


def json_ids(ids: Sequence[int] | np.ndarray) -> str:
    values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    return msgspec.json.encode(values).decode()
