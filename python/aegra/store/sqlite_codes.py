"""What the store's vector index is loaded from (`vector_cache.py`), on a plain `sqlite3`
connection in the loader's thread: the namespaces of all items, the code records a chunk at a
time, and, for a file from before the code records, the vectors that still need theirs. (The
tables: `sqlite_tables.py`; the code records are written with their vectors by `sqlite_writes.py`.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import numpy as np

from aegra.store import namespaces

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
