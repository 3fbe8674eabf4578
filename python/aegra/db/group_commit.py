"""Turns on the shared SQLite connection, and one COMMIT for the writes of nearby turns.

The runs' statements and LangGraph's checkpointer share one connection (db/statements.py) and
take it in turns (`async with turns:`). A small run writes seven times: its creation, three
checkpoints, two sets of task writes, its end. Committed one by one, each COMMIT wrote every
page it changed to the WAL (36 pages a run, about 6 us each here) and took and released the
file locks, and the COMMITs were the largest single cost of the server's SQLite work.

So a turn that wrote leaves the transaction open for the turns that follow, and one COMMIT
makes all of them durable together: a page that several of them changed (the last leaf of an
index by time, a thread's row) is written once. The COMMIT comes when the event loop has nothing
else ready to run, or after `MAX_DEFERRED_PASSES` passes of a loop that stays busy. Committing at
the very next pass instead gave a busy server (16 clients) 1.2-1.6 COMMITs per run of 4-6 turns
each; waiting for the loop to go idle gives 0.3 of ~22 turns, and 20% less CPU per run. An idle
loop commits at its next pass either way.

- A turn that wrote waits for that COMMIT before its `async with` block returns, so nothing
  answers a client or reports a run settled before its writes are durable. The exception is a
  turn inside `writes_may_lag()`: a run's checkpoint writes under `async` or `exit` durability,
  which LangGraph does not wait for either; the run's settle, later, waits for its own COMMIT,
  which covers them.
- The wait cannot be cut short: a cancellation that arrives meanwhile is delivered at the
  caller's next `await` (the writes commit regardless, and the caller must know they did).
- A turn that joins an open transaction takes a SAVEPOINT before its first statement that is
  not a SELECT. If it fails, only its own writes are undone. Turns that write with a single
  statement (a checkpoint's, `one_write_turns`) need none: a statement that fails leaves nothing.
  A second write in such a turn is refused; the first, complete in itself, stays.
- If a COMMIT fails, the whole group is rolled back. The turns waiting for it raise the error,
  and `failed_commits` counts it: a run compares the count at its start and at its settle, and
  fails when its checkpoint writes may have been lost.
- Reads on this connection see the group's writes a moment before they are durable.
- While a group is open this connection holds the database's write lock, so other writers wait;
  while any writer of this process waits (`InlineConnection.writers_waiting`), each turn
  commits as it ends and no COMMIT waits for the loop to go idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sqlite3
from collections.abc import Iterator
from types import TracebackType

from aegra.db.inline_sqlite import InlineConnection
from aegra.telemetry import metrics

logger = logging.getLogger(__name__)

_lagging: contextvars.ContextVar[bool] = contextvars.ContextVar("aegra_writes_may_lag", default=False)
_one_write: contextvars.ContextVar[bool] = contextvars.ContextVar("aegra_one_write_turn", default=False)

# Bound on the writing turns one COMMIT covers, so that a loop that never pauses still commits.
MAX_GROUP = 64
# Bound on the passes of a busy loop that a COMMIT waits for (module doc).
MAX_DEFERRED_PASSES = 16


@contextlib.contextmanager
def _flag(var: contextvars.ContextVar[bool], value: bool) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def writes_may_lag(enabled: bool = True) -> contextlib.AbstractContextManager[None]:
    """Turns that write in this block (and in tasks started from it) do not wait for their COMMIT."""
    return _flag(_lagging, enabled)


def one_write_turns() -> contextlib.AbstractContextManager[None]:
    """Turns in this block write with one statement at most, so they need no savepoint: a statement
    that fails leaves nothing behind. A second write in such a turn is refused."""
    return _flag(_one_write, True)


def _reads_only(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT"


class TurnConnection(InlineConnection):
    """The shared connection. Within a turn, `commit()` only ends the caller's unit of work (the
    group commits it) and `rollback()` undoes the turn's own writes."""

    turns: GroupCommit

    def _before_statement(self, sql: str) -> None:
        turns = self.turns
        if turns.nested and not turns.savepoint and not _reads_only(sql):
            turns.before_write()

    async def commit(self) -> None:
        self.turns.check_held("commit")

    async def rollback(self) -> None:
        self.turns.check_held("roll back")
        self.turns.undo_turn()

    async def close(self) -> None:
        self.turns.close()
        await super().close()


class GroupCommit:
    """One holder of the connection at a time, and the COMMITs of their writes (module doc)."""

    def __init__(self, connection: TurnConnection) -> None:
        self._conn: sqlite3.Connection = connection._conn
        self._lock = asyncio.Lock()
        self.held = False
        self.nested = False  # the current turn joined an open transaction
        self.savepoint = False  # and has taken its savepoint
        self.written = False  # a one-write turn (one_write_turns) has written
        self._changes = 0  # the connection's total_changes when the turn began
        self._group: _Group | None = None  # the open group's outcome, for the turns that wait for it
        self._writers = 0  # turns that wrote in the open group
        self._scheduled = False  # a _commit_due callback is on the loop
        self._due = False  # it came while a turn held the connection: that turn commits as it ends
        self.failed_commits = 0
        self._closed = False
        connection.turns = self

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        self.held = True
        self.nested = self._conn.in_transaction
        self.savepoint = False
        self.written = False
        self._changes = self._conn.total_changes

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        try:
            group = self._end_turn(failed=exc_type is not None)
        finally:
            self.held = False
            self._lock.release()
        if group is not None:
            await _durable(group)

    async def durable(self) -> None:
        """Return once the writes made so far on this connection are committed (the open group's)."""
        if self._group is not None:
            await _durable(self._group)

    def check_held(self, what: str) -> None:
        if not self.held:
            raise RuntimeError(f"the shared SQLite connection can only {what} inside a turn (async with turns)")

    def before_write(self) -> None:
        """A turn that joined the open group is about to run a statement that may write."""
        if not _one_write.get():
            self._conn.execute("SAVEPOINT turn")
            self.savepoint = True
        elif self.written:
            raise RuntimeError("a turn declared to write with one statement (one_write_turns) wrote twice")
        else:
            self.written = True

    def undo_turn(self) -> None:
        """Roll back the current turn's writes, and only them."""
        if self.savepoint:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK TO turn")
                self._conn.execute("RELEASE turn")
            self.savepoint = False
        elif not self.nested and self._conn.in_transaction:
            self._conn.rollback()  # the turn began the transaction: nothing else is in it

    def _end_turn(self, *, failed: bool) -> _Group | None:
        """Undo a failed turn or keep a good one's writes; returns the COMMIT the turn must wait for."""
        conn = self._conn
        if failed:
            self.undo_turn()
        elif self.savepoint and conn.in_transaction:
            conn.execute("RELEASE turn")
        wrote = not failed and conn.total_changes != self._changes
        if failed and self.nested and not conn.in_transaction and self._group is not None:
            # SQLite rolled the whole transaction back (an I/O error, a full disk...): the
            # group's writes are lost with the turn's.
            self._fail_group(sqlite3.OperationalError("the transaction was rolled back by an error in a turn"))
            return None
        if not conn.in_transaction:
            # Nothing is pending, or something inside the turn committed it all (a script).
            self._finish_group(None)
            return None
        if not self.nested and not wrote:
            conn.commit()  # a transaction of its own that changed nothing: no pages to write
            return None
        group = None
        if wrote:
            self._writers += 1
            if self._group is None:
                self._group = _Group()
            if not _lagging.get():
                group = self._group
        if self._due or self._writers >= MAX_GROUP or InlineConnection.writers_waiting:
            self._commit()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._commit_due)
        return group

    def _commit_due(self, passes_left: int = MAX_DEFERRED_PASSES) -> None:
        if self._closed:
            self._scheduled = False
            return
        loop = asyncio.get_running_loop()
        if passes_left and _others_ready(loop) and not InlineConnection.writers_waiting:
            # More work is queued, and it may write too: let it join the group first.
            loop.call_soon(self._commit_due, passes_left - 1)
            return
        self._scheduled = False
        if self.held:
            # A turn is under way (its BEGIN waits for the lock, or a reader holds the connection
            # across a yield): the group commits when that turn ends.
            self._due = True
        else:
            self._commit()

    def close(self) -> None:
        """COMMIT the open group: the connection is closing."""
        if not self._closed:
            self._commit()
            self._closed = True

    def _commit(self) -> None:
        self._due = False
        if self._conn.in_transaction:
            try:
                self._conn.commit()
            except Exception as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.rollback()
                self._fail_group(exc)
                return
            metrics.sqlite_commit(self._writers)
        self._finish_group(None)

    def _fail_group(self, error: Exception) -> None:
        """The open group's writes are rolled back: count it, and fail the turns waiting for it."""
        self.failed_commits += 1
        logger.error("the writes of %d turns were rolled back: %s", self._writers, error)
        self._finish_group(error)

    def _finish_group(self, error: Exception | None) -> None:
        group, self._group, self._writers = self._group, None, 0
        if group is not None:
            group.finish(error)


def _others_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether callbacks other than the caller wait to run in this pass or the next. Read from
    the queue of asyncio's own loop (`_ready`, there since Python 3.4); a loop without one (uvloop)
    counts as idle, which commits at the next pass."""
    return bool(getattr(loop, "_ready", None))


class _Group:
    """How a group ended, and a future for each turn that waits for it: a cancelled waiter's
    future is its own, so the others go on waiting (an `asyncio.shield` per wait did the same
    with twice the futures and callbacks)."""

    __slots__ = ("done", "error", "waiters")

    def __init__(self) -> None:
        self.done = False
        self.error: Exception | None = None
        self.waiters: list[asyncio.Future[None]] = []

    def finish(self, error: Exception | None) -> None:
        self.done, self.error = True, error
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)


async def _durable(group: _Group) -> None:
    """Wait for the group's COMMIT even if cancelled meanwhile; re-arm the cancellation after."""
    task = asyncio.current_task()
    cancelled = False
    while not group.done:
        waiter = asyncio.get_running_loop().create_future()
        group.waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if task is not None:
                task.uncancel()
            cancelled = True
    if cancelled and task is not None:
        task.cancel()
    if group.error is not None:
        raise group.error
