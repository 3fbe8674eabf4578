"""The executor: the one owner of execution slots, claiming, cancellation and stream channels.

Runs wait in the database (queue.py); a run executes in a task of its own while it holds one of
`concurrency` slots, one active run per thread. The executor:

- takes runs in two ways: at creation, when a slot is free and nothing is ahead of the run on its
  thread (`reserve_slot` + `submit`, no claim round trip), or by claiming the next pending run
  from the database, one dispatcher at a time, or in the transaction that settles a run (the
  next run takes its slot: a transaction of its own cost each queued run a COMMIT and a
  dispatcher round);
- runs the graph (execution.py `GraphRunner`) and records the outcome (settle.py `Settler`);
- cancels: a run executing here by cancelling its task, a pending one in the database;
- opens a run's stream channel when it is submitted and closes it when the run has ended (or
  will never start), so a listener always sees the end.

A single claimer (rather than every slot polling) keeps the claim transactions to about one per
run: on SQLite each is a write transaction, and a herd of idle slots racing for the lock after
every run would cost more than the runs themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from aegra.db.engine import Database
from aegra.db.tables import runs, threads
from aegra.db.tables.runs import ClaimedRun
from aegra.domain.runs.broker import Broker
from aegra.domain.runs.execution import GraphRunner, Outcome
from aegra.domain.runs.queue import Leases, RunQueue
from aegra.domain.runs.settle import Settler

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class Executor:
    def __init__(self, *, db: Database, queue: RunQueue, leases: Leases, broker: Broker, runner: GraphRunner,
                 settler: Settler, concurrency: int) -> None:  # fmt: skip
        self.db = db
        self.queue = queue
        self.leases = leases
        self.broker = broker
        self.runner = runner
        self.settler = settler
        self.concurrency = max(concurrency, 1)
        self._free_slots = self.concurrency
        # Whether pending runs may be waiting in the database. Runs that start at creation
        # (the common case) never set it, so finishing them costs no claim transaction.
        self._backlog = True
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        # Runs cancelled by a user, and how (interrupt | rollback); a cancellation without an
        # entry here is the server shutting down.
        self._cancel_actions: dict[uuid.UUID, str] = {}
        # Runs whose slot went to the run claimed when they settled (see _execute).
        self._slot_passed: set[uuid.UUID] = set()

    async def start(self) -> None:
        await self.leases.recover()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="run-dispatcher")

    async def stop(self) -> None:
        """Shutdown: runs in flight stay `running` in the database, for `Leases.recover`."""
        tasks = [t for t in [self._dispatcher, *self._running.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._dispatcher = None

    # -- taking runs ----------------------------------------------------------------------

    def reserve_slot(self) -> bool:
        """Take an execution slot now if one is free (no waiting); pair with `submit(started=True)`
        or `release_slot`. Run creation uses it to store a run as `running` at once."""
        if self._free_slots == 0:
            return False
        self._free_slots -= 1
        return True

    def release_slot(self) -> None:
        self._free_slots += 1
        if self._backlog:
            self.queue.notify()

    def submit(self, run_id: uuid.UUID, thread_id: uuid.UUID, kwargs: dict[str, Any], *, started: bool) -> None:
        """A run was stored: `started` in a slot taken with `reserve_slot` (it executes now), or
        pending (it waits for a claim)."""
        self.broker.open(run_id)
        if started:
            self._launch(ClaimedRun(run_id, thread_id, kwargs, 1))
        else:
            self.wake()

    def wake(self) -> None:
        """There may be a pending run to claim (one was stored, or a thread's queue moved)."""
        self._backlog = True
        self.queue.notify()

    def _launch(self, run: ClaimedRun) -> None:
        """Execute a run already marked `running`, in a slot it holds."""
        task = asyncio.create_task(self._execute(run), name=f"run-{run.run_id}")
        self._running[run.run_id] = task
        task.add_done_callback(functools.partial(self._finished, run.run_id))

    async def _dispatch(self) -> None:
        while True:
            run = await self._claim() if self._backlog and self.reserve_slot() else None
            if run is not None:
                self.broker.open(run.run_id)
                self._launch(run)
                continue
            if await self.queue.wait(POLL_SECONDS):
                self._backlog = True

    async def _claim(self) -> ClaimedRun | None:
        """Claim the next due run in the slot just reserved; the slot is given back if there is none."""
        try:
            async with self.db.write() as sql:
                claimed = await self.queue.claim(sql, datetime.now(UTC))
        except Exception:
            logger.exception("claiming the next run failed")
            claimed = None
        if claimed is None:
            self._backlog = False
            self._free_slots += 1
        return claimed

    def _finished(self, run_id: uuid.UUID, _task: asyncio.Task[None] | None = None) -> None:
        self._running.pop(run_id, None)
        if run_id in self._slot_passed:
            self._slot_passed.discard(run_id)  # a claimed run has its slot already
            return
        # The slot is free, and the thread's next run (if any) may go now.
        self.release_slot()

    # -- executing ------------------------------------------------------------------------

    async def _execute(self, run: ClaimedRun) -> None:
        run_id, thread_id, kwargs = run.run_id, run.thread_id, run.kwargs
        graph_id = kwargs["config"]["configurable"]["graph_id"]
        failed_commits = self.db.failed_commits
        try:
            outcome = await self._run_graph(run, graph_id)
            if outcome.summary is None:
                outcome.summary = await self.runner.summary(graph_id, thread_id, run_id)
            if outcome.cancel_action == "rollback":
                await self.settler.rollback(run_id, thread_id)
            claim_next = self._backlog
            now = datetime.now(UTC)
            async with self.db.write() as sql:
                # Looked at within the settle's own turn: by then every group with the run's
                # writes has committed, failed and been counted, or is the settle's own.
                lost = self.db.failed_commits != failed_commits
                settled = await self.settler.settle(sql, run_id, thread_id, outcome, lost_writes=lost, now=now)
                claimed = await self.queue.claim(sql, now) if claim_next else None
            if claimed is not None:
                # The next run goes in this run's slot at once (the rest here is bookkeeping).
                self._slot_passed.add(run_id)
                self.broker.open(claimed.run_id)
                self._launch(claimed)
            elif claim_next:
                self._backlog = False
            if settled.thread_busy:
                self.wake()  # the thread has queued runs
            await self.settler.after(run_id, thread_id, kwargs, settled)
        except Exception:
            logger.exception("run %s: recording its outcome failed", run_id)
        finally:
            await self.broker.close(run_id)

    async def _run_graph(self, run: ClaimedRun, graph_id: str) -> Outcome:
        """The graph's outcome; a run cancelled by a user is `interrupted` (a cancellation
        without a user's action is the server stopping, and propagates)."""
        try:
            # Under `async`/`exit` durability the checkpoint writes need not be durable before the
            # run goes on: its settle waits for a COMMIT that covers them (db/group_commit.py).
            with self.db.writes_may_lag(run.kwargs.get("durability") != "sync"):
                return await self.runner.run(run.run_id, graph_id, run.kwargs, run.attempt)
        except asyncio.CancelledError:
            action = self._cancel_actions.pop(run.run_id, None)
            if action is None:
                raise  # the server is shutting down: leave the run for recovery
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return Outcome("interrupted", cancel_action=action)

    # -- cancelling -----------------------------------------------------------------------

    async def cancel(self, thread_id: uuid.UUID, run_id: uuid.UUID, action: str) -> None:
        """Stop a run: `interrupt` (it ends `interrupted`) or `rollback` (it and its checkpoints
        are deleted). A run executing here stops at its next step; a pending one never starts."""
        task = self._running.get(run_id)
        if task is not None:
            self._cancel_actions[run_id] = action
            task.cancel()
            return
        now = datetime.now(UTC)
        async with self.db.write() as sql:
            if await runs.end_pending(sql, run_id, delete_it=action == "rollback", now=now):
                thread = await threads.get(sql, thread_id)
                if thread is not None and not await runs.any_in_flight(sql, thread_id):
                    status = "interrupted" if thread.interrupts else "idle"
                    await threads.update_fields(sql, thread_id, {"status": status, "updated_at": now})
        await self.broker.close(run_id)
        self.wake()
