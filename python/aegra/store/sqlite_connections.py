"""How the SQLite store opens its file: an aiosqlite reader (long scans stay off the event loop),
an inline writer (`db/inline_sqlite.py`: a put made about seven aiosqlite thread round trips
per item, each costing more than its statement) and a bounded inline reader for short reads (a
listing's walk, a get). The tables and their SQL: `sqlite_tables.py`, `sqlite_writes.py`, `sqlite_codes.py`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aiosqlite

from aegra.db.inline_sqlite import InlineConnection
from aegra.store import filters, sqlite_vec_loader

T = TypeVar("T")

# Shared by the reader and the writer; NORMAL in WAL mode loses nothing committed when the process dies.
_FILE_PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL")
# The writer keeps SQLite's checkpoint every 1,000 pages. A checkpoint every 4,000 made a fill
# 1.3-1.8 us an item cheaper (`benches/store_fill_floor.py`, 50k items: a fill's batch rewrites
# pages of the `(prefix, key)` index, which a longer WAL copies fewer times), but with NORMAL a
# power loss may lose the commits since the last checkpoint, and that window would grow fourfold:
# not taken. WAL_SIZE_LIMIT truncates the WAL when a checkpoint resets it after it grew (a long
# read held its snapshot), instead of leaving the file at its largest.
WAL_SIZE_LIMIT = 64 << 20


def writer_pragmas() -> tuple[str, ...]:
    """The writer's PRAGMAs (`benches/store_fill_floor.py` opens its files with them too)."""
    return (
        *_FILE_PRAGMAS,
        f"PRAGMA journal_size_limit = {int(WAL_SIZE_LIMIT)}",
    )


async def connect(path: str | Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    """The store's reader (and, for `:memory:`, its writer too)."""
    # sqlite-vec on every connection: the store's vectors are in its BLOB layout, so `vec_*` SQL works
    # on them (the store itself scores in `aegra.vec`). Before connecting: auto-extensions apply to
    # new connections.
    sqlite_vec_loader.ensure_sqlite_vec()
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the lock up front
    # and waits on busy_timeout instead of failing on a read-to-write upgrade.
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        for pragma in _FILE_PRAGMAS:
            await conn.execute(pragma)
        await conn.create_function(filters.FILTER_FUNCTION, 2, filters.sql_filter, deterministic=True)
        await sqlite_vec_loader.prepare_connection(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


def connect_writer(path: str | Path, busy_timeout_ms: int) -> InlineConnection:
    """The store's writer: statements inline on the event loop; isolation_level None because the
    writes issue BEGIN IMMEDIATE themselves."""
    return InlineConnection.open(path, busy_timeout_ms=busy_timeout_ms, pragmas=writer_pragmas(), isolation_level=None)


class OverBudget(Exception):
    """A bounded inline read ran past its budget (or found the file locked): run it off the loop."""


class BoundedReader:
    """A plain sqlite3 connection whose reads run inline on the event loop, each bounded in time.

    A listing through aiosqlite made six thread round trips (execute, fetch, close of two
    statements): measured 0.9 ms of its thread's CPU and ~0.3 ms of the loop's per request, more
    than the walk itself. Most reads (a get, a listing that stops at its page) take well under a
    millisecond; SQLite's progress handler interrupts one that has used `budget_seconds` of CPU,
    and the caller runs it again on the aiosqlite reader (`OverBudget`), so the loop is never held
    for much more work than that. CPU time rather than wall time: on a busy machine a read
    preempted halfway would be interrupted, then done twice (at 1M items a ~1 ms walk measured
    3.4-6.9 ms of server CPU a request with a 2 ms wall-clock deadline). One read at a time: the
    store calls it under its lock.
    """

    def __init__(self, path: str | Path, budget_seconds: float) -> None:
        self.budget_seconds = budget_seconds
        self._deadline = 0.0
        # Read only: busy_timeout 0, so a locked file (a checkpoint's recovery) never waits on the loop.
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout = 0")
        self.conn.execute("PRAGMA query_only = 1")
        self.conn.create_function(filters.FILTER_FUNCTION, 2, filters.sql_filter, deterministic=True)
        # Checked every 8,000 virtual machine steps (~0.1-0.4 ms of work): reading the thread's CPU
        # clock costs ~2 us here, a cost that a check every 1,000 steps would make 5-20% of the read.
        self.conn.set_progress_handler(self._past_deadline, 8000)

    def _past_deadline(self) -> int:
        return 1 if time.thread_time() > self._deadline else 0

    def run(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """`read(conn)` inline, or `OverBudget` when it ran past the budget or found the file locked."""
        self._deadline = time.thread_time() + self.budget_seconds
        try:
            return read(self.conn)
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if "interrupted" in message or "locked" in message or "busy" in message:
                raise OverBudget(message) from exc
            raise

    def close(self) -> None:
        self.conn.close()
