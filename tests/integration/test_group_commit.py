"""The shared SQLite connection's turns and group commit (db/group_commit.py), on a real file.

What must hold: turns of one loop pass share one COMMIT, and so do those of later passes while
the loop stays busy (up to a bound); a turn that waits returns only once its writes are durable
(another connection sees them); a failed turn undoes only its own writes; a failed COMMIT fails
its waiters, is counted, and leaves the connection usable; writes that may lag commit once the
loop is idle or when the database closes; a writer waiting on another connection stops the
grouping; a run whose lagging writes were lost settles as `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as sqlite_dialect

from aegra.config import database_from_env
from aegra.db.engine import Database, sqlite_pragmas
from aegra.db.group_commit import MAX_DEFERRED_PASSES, one_write_turns, writes_may_lag
from aegra.db.inline_sqlite import InlineConnection
from aegra.db.sqlite_turns import SqliteTurns
from aegra.db.tables import runs, threads
from aegra.domain.runs.broker import InProcessBroker
from aegra.domain.runs.execution import Outcome
from aegra.domain.runs.executor import Executor
from aegra.domain.runs.queue import LocalQueue, SingleProcessLeases
from aegra.domain.runs.settle import Settler

SCHEMA = (
    "CREATE TABLE t (v INTEGER)",
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    # Checked at COMMIT: a violation makes the COMMIT itself fail.
    "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
)


@pytest.fixture
async def direct(tmp_path: Path):
    shared = SqliteTurns(
        tmp_path / "db.sqlite", busy_timeout_ms=2000, pragmas=sqlite_pragmas(2000), dialect=sqlite_dialect()
    )
    async with shared.write():
        for statement in SCHEMA:
            await shared.connection.execute(statement)
    yield shared
    await shared.close()


def _commits(direct: SqliteTurns) -> list[str]:
    """Every COMMIT the shared connection runs, from now on."""
    seen: list[str] = []
    direct.connection._conn.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("COMMIT") else None)
    return seen


def _committed(path: Path, table: str = "t") -> list[int]:
    """What another connection sees: only committed rows."""
    with contextlib.closing(sqlite3.connect(path)) as other:
        return sorted(row[0] for row in other.execute(f"SELECT * FROM {table}"))


def _path(direct: SqliteTurns) -> Path:
    return Path(direct.connection._conn.execute("PRAGMA database_list").fetchone()[2])


@contextlib.asynccontextmanager
async def _busy_loop() -> AsyncIterator[None]:
    """Another task always ready to run: the event loop never goes idle."""

    async def spin() -> None:
        while True:  # noqa: ASYNC110 - spinning is the point: ready again at every pass
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    try:
        yield
    finally:
        spinner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await spinner


async def _passes_until_committed(path: Path) -> int:
    passes = 0
    while not _committed(path):
        await asyncio.sleep(0)
        passes += 1
        assert passes <= 100, "never committed"
    return passes


async def _insert(direct: SqliteTurns, value: int, *, fail: bool = False) -> list[int]:
    async with direct.write():
        await direct.connection.execute("INSERT INTO t VALUES (?)", (value,))
        if fail:
            raise RuntimeError("the turn fails after writing")
    return _committed(_path(direct))


async def test_turns_in_one_pass_share_one_commit_and_return_when_durable(direct: SqliteTurns) -> None:
    commits = _commits(direct)
    seen_by_each = await asyncio.gather(*(_insert(direct, v) for v in range(10)))
    assert len(commits) == 1
    for seen in seen_by_each:  # each turn returned only once every row of the group was committed
        assert seen == list(range(10))


async def test_a_failed_turn_undoes_only_its_own_writes(direct: SqliteTurns) -> None:
    commits = _commits(direct)
    results = await asyncio.gather(_insert(direct, 1), _insert(direct, 2, fail=True), _insert(direct, 3),
                                   return_exceptions=True)  # fmt: skip
    assert isinstance(results[1], RuntimeError)
    assert results[0] == results[2] == [1, 3]
    assert _committed(_path(direct)) == [1, 3] and len(commits) == 1


async def _turn(direct: SqliteTurns, *statements: str, fail: bool = False) -> None:
    async with direct.write():
        for statement in statements:
            await direct.connection.execute(statement)
        if fail:
            raise RuntimeError("the turn fails after writing")


async def test_failed_turns_with_several_writes_undo_only_their_own(direct: SqliteTurns) -> None:
    results = await asyncio.gather(
        _turn(direct, "INSERT INTO t VALUES (1)"),  # begins the group's transaction
        _turn(direct, "INSERT INTO t VALUES (2)", "UPDATE t SET v = v + 10 WHERE v = 1"),
        _turn(direct, "INSERT INTO t VALUES (3)", "UPDATE t SET v = v + 100", fail=True),
        _turn(direct, "UPDATE t SET v = v + 1000 WHERE v = 2", "INSERT INTO t VALUES (4)"),
        return_exceptions=True,
    )
    assert [isinstance(result, RuntimeError) for result in results] == [False, False, True, False]
    assert _committed(_path(direct)) == [4, 11, 1002]


async def test_one_write_turns_take_no_savepoint_and_may_not_write_twice(direct: SqliteTurns) -> None:
    statements: list[str] = []
    direct.connection._conn.set_trace_callback(statements.append)
    with writes_may_lag():  # no turn waits for the COMMIT, so all of them join one group
        await _turn(direct, "INSERT INTO t VALUES (1)")
        with one_write_turns():
            await _turn(direct, "INSERT INTO t VALUES (2)")
            with pytest.raises(RuntimeError, match="wrote twice"):
                await _turn(direct, "INSERT INTO t VALUES (3)", "INSERT INTO t VALUES (4)")
    await _turn(direct, "INSERT INTO t VALUES (5)")  # an ordinary turn in the same group
    savepoints = [i for i, sql in enumerate(statements) if sql.startswith("SAVEPOINT")]
    assert len(savepoints) == 1 and statements[savepoints[0] + 1] == "INSERT INTO t VALUES (5)"
    # The refused turn's first write stays: one statement, complete in itself (module doc).
    assert _committed(_path(direct)) == [1, 2, 3, 5]


async def test_lagging_writes_return_at_once_and_commit_when_the_loop_is_idle(direct: SqliteTurns) -> None:
    with writes_may_lag():
        async with direct.write():
            await direct.connection.execute("INSERT INTO t VALUES (7)")
    assert _committed(_path(direct)) == []  # not yet: the group is open
    async with direct.read():  # this connection reads the group's writes already
        rows = await (await direct.connection.execute("SELECT v FROM t")).fetchall()
    assert rows == [(7,)]
    await asyncio.sleep(0.001)  # nothing else is ready while this task sleeps
    assert _committed(_path(direct)) == [7]


async def test_a_busy_loop_defers_the_commit_so_later_turns_join_the_group(direct: SqliteTurns) -> None:
    commits = _commits(direct)

    async def after_passes(passes: int, value: int) -> list[int]:
        for _ in range(passes):
            await asyncio.sleep(0)  # ready again at once: the loop stays busy
        return await _insert(direct, value)

    seen_by_each = await asyncio.gather(_insert(direct, 1), after_passes(3, 2), after_passes(6, 3))
    assert len(commits) == 1
    assert seen_by_each == [[1, 2, 3]] * 3


async def test_a_loop_that_stays_busy_still_commits_within_the_bound(direct: SqliteTurns) -> None:
    async with _busy_loop():
        with writes_may_lag():
            await _turn(direct, "INSERT INTO t VALUES (1)")
        passes = await _passes_until_committed(_path(direct))
    assert 1 < passes <= MAX_DEFERRED_PASSES + 1  # deferred while the loop was busy, yet committed


async def test_durable_returns_once_the_open_group_is_committed(direct: SqliteTurns) -> None:
    with writes_may_lag():
        await _turn(direct, "INSERT INTO t VALUES (1)")
    assert _committed(_path(direct)) == []
    await direct.durable()  # what a reader on another connection waits for (a thread create's race)
    assert _committed(_path(direct)) == [1]
    await direct.durable()  # nothing open: at once


async def test_a_waiting_turn_in_a_lagging_group_waits_for_everything_before_it(direct: SqliteTurns) -> None:
    commits = _commits(direct)
    with writes_may_lag():
        async with direct.write():
            await direct.connection.execute("INSERT INTO t VALUES (1)")
    assert await _insert(direct, 2) == [1, 2]
    assert len(commits) == 1


async def test_a_failed_commit_fails_its_waiters_is_counted_and_leaves_the_connection_usable(
    direct: SqliteTurns,
) -> None:
    before = direct.failed_commits
    with writes_may_lag():  # a lagging turn breaks the group: nobody waits for it
        async with direct.write():
            await direct.connection.execute("INSERT INTO child VALUES (42)")  # no parent 42
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await _insert(direct, 1)  # in the same group: its COMMIT fails
    assert direct.failed_commits == before + 1
    assert _committed(_path(direct)) == [] and _committed(_path(direct), "child") == []
    assert await _insert(direct, 2) == [2]  # the next group commits normally


async def test_a_cancelled_waiter_still_sees_its_commit_and_is_cancelled_after(direct: SqliteTurns) -> None:
    passed: list[str] = []

    async def writer() -> None:
        async with direct.write():
            await direct.connection.execute("INSERT INTO t VALUES (5)")
        passed.append("the write block returned")
        await asyncio.sleep(10)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0)  # the task has written and waits for the COMMIT
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert passed == ["the write block returned"]
    assert _committed(_path(direct)) == [5]


async def test_closing_commits_the_open_group(tmp_path: Path, direct: SqliteTurns) -> None:
    with writes_may_lag():
        async with direct.write():
            await direct.connection.execute("INSERT INTO t VALUES (9)")
    await direct.close()
    assert _committed(tmp_path / "db.sqlite") == [9]


async def test_a_writer_waiting_on_another_connection_cuts_the_deferral_short(
    tmp_path: Path, direct: SqliteTurns
) -> None:
    other = InlineConnection.open(tmp_path / "db.sqlite", busy_timeout_ms=2000, pragmas=sqlite_pragmas(2000))
    async with _busy_loop():
        with writes_may_lag():
            await _turn(direct, "INSERT INTO t VALUES (1)")
        waiting = asyncio.ensure_future(other.execute("BEGIN IMMEDIATE"))
        passes = await _passes_until_committed(tmp_path / "db.sqlite")
    assert passes <= 3 < MAX_DEFERRED_PASSES  # the loop is still busy, yet the COMMIT went at once
    await asyncio.wait_for(waiting, 2)
    await other.rollback()
    await other.close()


async def test_a_writer_waiting_on_another_connection_stops_the_grouping(tmp_path: Path, direct: SqliteTurns) -> None:
    commits = _commits(direct)
    other = InlineConnection.open(tmp_path / "db.sqlite", busy_timeout_ms=2000, pragmas=sqlite_pragmas(2000))
    waiting = asyncio.ensure_future(other.execute("BEGIN IMMEDIATE"))
    with writes_may_lag():
        async with direct.write():
            await direct.connection.execute("INSERT INTO t VALUES (1)")
            await asyncio.sleep(0.01)  # the other writer finds the lock taken, and waits
            assert InlineConnection.writers_waiting == 1
    # A lagging turn, yet committed as it ended: someone waits for the lock.
    assert len(commits) == 1 and _committed(tmp_path / "db.sqlite") == [1]
    await asyncio.wait_for(waiting, 2)
    assert InlineConnection.writers_waiting == 0
    # The shared connection's next write waits in turn for the other connection.
    second = asyncio.create_task(_insert(direct, 2))
    await asyncio.sleep(0.01)
    assert not second.done()
    await other.commit()
    assert await asyncio.wait_for(second, 2) == [1, 2]
    await other.close()


class _LosingRunner:
    """Stands in for a graph whose checkpoint writes, lagging, land in a group whose COMMIT fails."""

    def __init__(self, shared: SqliteTurns) -> None:
        self.shared = shared

    async def run(self, run_id: uuid.UUID, graph_id: str, kwargs: dict, attempt: int) -> Outcome:
        async with self.shared.write():  # lagging: the executor runs it under `async` durability
            await self.shared.connection.execute("INSERT INTO child VALUES (1)")
        await asyncio.sleep(0.001)  # the loop is idle: the group commits, and fails
        return Outcome("success", summary={"values": {"x": 1}, "interrupts": {}, "status": "idle"})


async def test_a_run_whose_lagging_writes_were_lost_settles_as_error(tmp_path: Path) -> None:
    db = await Database.open(database_from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/runs.db"}, tmp_path))
    try:
        shared = db.shared_sqlite
        assert shared is not None
        thread_id, run_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
        leases = SingleProcessLeases(db)
        async with db.write() as sql:
            await shared.connection.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            await shared.connection.execute(
                "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
            )
            await threads.insert(sql, {"thread_id": thread_id, "status": "busy"})
            await runs.insert(sql, {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(),
                                    "created_at": now, "updated_at": now, "status": "running",
                                    **leases.lease().columns()})  # fmt: skip
        at_start = db.failed_commits
        broker = InProcessBroker()
        executor = Executor(
            db=db, queue=LocalQueue(db), leases=leases, broker=broker,
            runner=_LosingRunner(shared),  # type: ignore[arg-type]
            settler=Settler(db, checkpointer=None), concurrency=1,  # type: ignore[arg-type]
        )  # fmt: skip
        assert executor.reserve_slot()
        kwargs = {"config": {"configurable": {"graph_id": "g"}}, "durability": "async"}
        executor.submit(run_id, thread_id, kwargs, started=True)
        async for _ in broker.subscribe(run_id):  # the channel closes once the run has settled
            pass
        assert db.failed_commits == at_start + 1
        with contextlib.closing(sqlite3.connect(tmp_path / "runs.db")) as other:
            run = other.execute("SELECT status, error FROM runs").fetchone()
            thread = other.execute("SELECT status FROM threads").fetchone()
        assert run[0] == "error" and "CheckpointWriteError" in run[1]
        assert thread == ("error",)
    finally:
        await db.close()
