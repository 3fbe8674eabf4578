"""The fill's floor: SQLite alone writing the rows each store's schema writes for a fill.

    python benches/store_fill_floor.py                      # 50,000 items, the store's PRAGMAs
    python benches/store_fill_floor.py --items 20000 --pragma "cache_size = -2000"

No store code runs: plain `sqlite3` on fresh files with the PRAGMAs the SQLite store opens its
writer with (`aegra.store.sqlite_connections.writer_pragmas`, plus any `--pragma` given), batches
of 100 items in one `BEGIN IMMEDIATE` transaction each, the same data shapes as
`store_bench.py --fill-items` (round-robin namespaces `bench.t{i % 10}.u{i % 1000}`, keys `k{i}`,
384-dim float32 vectors, values `{"text": ..., "n": i}`), every row with `executemany`, the
rows (and their indexes) of:

- Aegra's schema (`sqlite_tables.SCHEMA`, created by the store's own `create_tables`):
  `store_items` (rowid, `UNIQUE (prefix, key)`, `store_items_recent`), `store_item_vectors`
  (rowid, `UNIQUE (item_id, field)`), `store_vector_codes` (WITHOUT ROWID, 16 + 384 bytes);
- LangGraph `SqliteStore`'s (its migrations): `store` (rowid, `PRIMARY KEY (prefix, key)`,
  `store_prefix_idx`) and `store_vectors` (rowid, `PRIMARY KEY (prefix, key, field_name)`).

Aegra's rows are written a second time (another file) as the store writes them: one multi-row
INSERT a table, the new items' ids given. The three alternate batch by batch; CPU us an item
(this thread's CPU time: SQLite's work, its system calls and the rows' Python building and
binding). What a store spends above its floor is its own Python; the ratio of the floors is the
most a store can gain over the other with the schemas as they are.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import numpy as np
from langgraph.store.sqlite import SqliteStore

from aegra.store.sqlite_connections import writer_pragmas
from aegra.store.sqlite_tables import SCHEMA

DIMS, BATCH = 384, 100
CODE_BYTES = 16 + DIMS

# LangGraph's own schema: the migrations its `SqliteStore.setup()` applies, from the installed package.
LANGGRAPH_SCHEMA = (*SqliteStore.MIGRATIONS, *SqliteStore.VECTOR_MIGRATIONS)


def connect(path: Path, schema: tuple[str, ...], pragmas: list[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in pragmas:
        conn.execute(f"PRAGMA {pragma}")
    for statement in schema:
        conn.execute(statement)
    return conn


def aegra_batch(conn: sqlite3.Connection, first: int, vectors: np.ndarray, codes: list[bytes]) -> None:
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    ids = range(first + 1, first + 1 + len(vectors))
    items = [
        (item_id, prefix(item_id - 1), f"k{item_id - 1}", f'{{"text":"doc {item_id - 1}","n":{item_id - 1}}}', now)
        for item_id in ids
    ]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO store_items (id, prefix, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?5, ?5)", items
    )
    conn.executemany(
        "INSERT INTO store_item_vectors (item_id, field, embedding) VALUES (?, 'text', ?)",
        zip(ids, [v.tobytes() for v in vectors], strict=True),
    )
    conn.executemany(
        "INSERT INTO store_vector_codes (item_id, field, code) VALUES (?, 'text', ?)", zip(ids, codes, strict=True)
    )
    conn.execute("COMMIT")


def aegra_multi_row_batch(conn: sqlite3.Connection, first: int, vectors: np.ndarray, codes: list[bytes]) -> None:
    """The same rows as `aegra_batch`, one multi-row INSERT a table, as the store writes them."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    items: list[object] = []
    blobs: list[object] = []
    records: list[object] = []
    for i, (vector, code) in enumerate(zip(vectors, codes, strict=True), start=first):
        items += (i + 1, prefix(i), f"k{i}", f'{{"text":"doc {i}","n":{i}}}', now, now)
        blobs += (i + 1, "text", vector.tobytes())
        records += (i + 1, "text", code)
    rows = len(vectors)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO store_items (id, prefix, key, value, created_at, updated_at) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows),
        items,
    )
    conn.execute(
        "INSERT INTO store_item_vectors (item_id, field, embedding) VALUES " + ", ".join(["(?, ?, ?)"] * rows), blobs
    )
    conn.execute(
        "INSERT INTO store_vector_codes (item_id, field, code) VALUES " + ", ".join(["(?, ?, ?)"] * rows), records
    )
    conn.execute("COMMIT")


def langgraph_batch(conn: sqlite3.Connection, first: int, vectors: np.ndarray, codes: list[bytes]) -> None:
    numbers = range(first, first + len(vectors))
    items = [(prefix(i), f"k{i}", f'{{"text":"doc {i}","n":{i}}}') for i in numbers]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT OR REPLACE INTO store (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
        "VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, NULL, NULL)",
        items,
    )
    conn.executemany(
        "INSERT OR REPLACE INTO store_vectors (prefix, key, field_name, embedding, created_at, updated_at) "
        "VALUES (?, ?, 'text', ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        [(p, k, v.tobytes()) for (p, k, _), v in zip(items, vectors, strict=True)],
    )
    conn.execute("COMMIT")


def prefix(i: int) -> str:
    return f"bench.t{i % 10}.u{i % 1000}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument(
        "--pragma", action="append", default=[], help="another PRAGMA for all, e.g. 'cache_size = -8000'"
    )
    args = parser.parse_args()
    pragmas = [p.removeprefix("PRAGMA ") for p in writer_pragmas()] + args.pragma
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((args.items, DIMS), dtype=np.float32)
    codes = [bytes(rng.integers(0, 256, CODE_BYTES, dtype=np.uint8)) for _ in range(BATCH)]
    names = {"aegra": "Aegra's schema", "multi": "Aegra's, multi-row INSERTs", "langgraph": "SqliteStore's schema"}
    seconds = dict.fromkeys(names, 0.0)
    with tempfile.TemporaryDirectory(prefix="aegra-fill-floor-") as tmp:
        conns = {
            "aegra": connect(Path(tmp) / "aegra.db", SCHEMA, pragmas),
            "multi": connect(Path(tmp) / "multi.db", SCHEMA, pragmas),
            "langgraph": connect(Path(tmp) / "langgraph.db", LANGGRAPH_SCHEMA, pragmas),
        }
        writes: dict[str, Callable[[sqlite3.Connection, int, np.ndarray, list[bytes]], None]] = {
            "aegra": aegra_batch,
            "multi": aegra_multi_row_batch,
            "langgraph": langgraph_batch,
        }
        for first in range(0, args.items, BATCH):
            batch = vectors[first : first + BATCH]
            for name, write in writes.items():
                start = time.thread_time()
                write(conns[name], first, batch, codes[: len(batch)])
                seconds[name] += time.thread_time() - start
        sizes = {name: sum(f.stat().st_size for f in Path(tmp).glob(f"{name}.db*")) for name in conns}
        for conn in conns.values():
            conn.close()
    print(f"fill floor: {args.items} items, batches of {BATCH}, PRAGMAs: {'; '.join(pragmas)}")
    print(f"{'':<28}{'CPU s':>8}{'us/item':>9}{'file MB':>9}")
    for name, label in names.items():
        cpu = seconds[name]
        print(f"{label:<28}{cpu:>8.2f}{cpu / args.items * 1e6:>9.1f}{sizes[name] / 2**20:>9.1f}")
    langgraph = seconds["langgraph"]
    print(
        f"SqliteStore's floor / Aegra's: {langgraph / seconds['aegra']:.2f}x (executemany), "
        f"{langgraph / seconds['multi']:.2f}x (multi-row)"
    )


if __name__ == "__main__":
    main()
