"""The inline SQLite connection: statements on the loop's thread, and waiting for the write lock
without blocking the loop (db/inline_sqlite.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from aegra.db.engine import sqlite_pragmas
from aegra.db.inline_sqlite import InlineConnection


def _open(path: Path, busy_timeout_ms: int = 5000, isolation_level: str | None = None) -> InlineConnection:
    return InlineConnection.open(
        path, busy_timeout_ms=busy_timeout_ms, pragmas=sqlite_pragmas(busy_timeout_ms), isolation_level=isolation_level
    )


async def test_a_writer_waits_for_the_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    first, second = _open(tmp_path / "db.sqlite"), _open(tmp_path / "db.sqlite")
    await first.execute("CREATE TABLE t (v INTEGER)")
    await first.execute("BEGIN IMMEDIATE")
    await first.execute("INSERT INTO t VALUES (1)")

    # The second writer must wait for the lock; the loop keeps running meanwhile, so the first
    # can commit. Were the wait a blocking busy_timeout, this would deadlock until it expired.
    async def second_writer() -> None:
        await second.execute("BEGIN IMMEDIATE")
        await second.execute("INSERT INTO t VALUES (2)")
        await second.commit()

    waiting = asyncio.create_task(second_writer())
    await asyncio.sleep(0.05)
    assert not waiting.done(), "the second writer went ahead while the first held the lock"
    await first.commit()
    await asyncio.wait_for(waiting, 2)
    rows = await (await first.execute("SELECT v FROM t ORDER BY v")).fetchall()
    assert rows == [(1,), (2,)]


async def test_the_wait_ends_with_database_is_locked_after_the_busy_timeout(tmp_path: Path) -> None:
    holder, waiter = _open(tmp_path / "db.sqlite"), _open(tmp_path / "db.sqlite", busy_timeout_ms=100)
    await holder.execute("CREATE TABLE t (v INTEGER)")
    await holder.execute("BEGIN IMMEDIATE")
    started = asyncio.get_running_loop().time()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await waiter.execute("BEGIN IMMEDIATE")
    assert 0.09 <= asyncio.get_running_loop().time() - started < 2
    assert not waiter.in_transaction
    await holder.rollback()


async def test_the_checkpointer_writes_through_it_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    """LangGraph's saver on an inline connection, as the server runs it (db/checkpointer.py)."""
    path = tmp_path / "db.sqlite"
    saver = AsyncSqliteSaver(_open(path, isolation_level="IMMEDIATE"))  # type: ignore[arg-type]
    await saver.setup()
    other = _open(path)
    await other.execute("BEGIN IMMEDIATE")
    config = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
    checkpoint = {"v": 1, "id": "1ef", "ts": "2026-11-26T00:00:00+00:00", "channel_values": {"x": 1},
                  "channel_versions": {}, "versions_seen": {}, "pending_sends": []}  # fmt: skip
    put = asyncio.create_task(saver.aput(config, checkpoint, {"source": "input", "step": -1}, {}))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not put.done()
    await other.commit()
    await asyncio.wait_for(put, 2)
    stored = await saver.aget_tuple({"configurable": {"thread_id": "t1"}})
    assert stored is not None and stored.checkpoint["channel_values"] == {"x": 1}
