"""The executor: the one owner of execution slots, claiming, cancellation and stream channels.

Runs wait in the database (queue.py); a run executes in a task of its own while it holds one of
`concurrency` slots, one active run per thread (across every process sharing the database). The
executor:

- takes runs in two ways: at creation, when a slot is free and nothing is ahead of the run on its
  thread (`reserve_slot` + `submit`, no claim round trip), or by claiming the next claimable run
  from the database, one dispatcher at a time, or in the transaction that settles a run (the
  next run takes its slot: a transaction of its own cost each queued run a COMMIT and a
  dispatcher round);
- runs the graph (execution.py `GraphRunner`) and records the outcome (settle.py `Settler`);
- cancels: a run executing here by cancelling its task, a pending one in the database, one
  running in another process by asking it (`RunQueue.request_cancel`);
- opens a run's stream channel when it starts here and closes it when the run has ended (or will
  never start), so a listener always sees the end;
- at shutdown, on PostgreSQL, lets its runs finish within a grace period and hands the rest back
  to the queue, for another process to resume.

A single claimer (rather than every slot polling) keeps the claim transactions to about one per
run: on SQLite each is a write transaction, and a herd of idle slots racing for the lock after
every run would cost more than the runs themselves. `concurrency` 0 (`aegra serve --no-execute`)
executes nothing: runs are stored and left for other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aegra.db.engine import Database
from aegra.db.outages import is_outage
from aegra.db.tables import runs, threads
from aegra.db.tables.runs import ClaimedRun, Lease
from aegra.domain.runs.broker import Broker
from aegra.domain.runs.execution import GraphRunner, Outcome
from aegra.domain.runs.queue import Leases, RunQueue
from aegra.domain.runs.settle import Settled, Settler
from aegra.telemetry import logs, metrics, tracing

logger = logging.getLogger(__name__)

# The dispatcher looks at the database at least this often (notifications are hints: a lost one
# must not leave a run waiting), and sooner when a delayed run comes due.
SAFETY_POLL_SECONDS = 5.0
# After a failed claim (the database is unreachable), the dispatcher waits this long.
CLAIM_RETRY_SECONDS = 1.0

# How long a cancel of a run that is `running` but not executing here is remembered, in case its
# task is about to start here (it was just created or claimed).
EARLY_CANCEL_SECONDS = 60.0

# Why a run ends here without being settled: the process stops and gives the run back, its lease
# ran out and another process may have it, or the database went away under it (it is given back
# for another try, which counts as an attempt).
HANDOFF = "handoff"
LEASE_LOST = "lease-lost"
OUTAGE = "outage"
# A settle that fails because the database is away is tried again after these pauses; then the
# run is left to its lease (another process, or this one, takes it over when it runs out).
SETTLE_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)


class Executor:
    def __init__(self, *, db: Database, queue: RunQueue, leases: Leases, broker: Broker, runner: GraphRunner,
                 settler: Settler, concurrency: int, shutdown_grace_seconds: float | None = None) -> None:  # fmt: skip
        """`shutdown_grace_seconds`: how long runs may go on at shutdown before they are handed
        back to the queue; None: they are stopped at once and left `running`, for
        `Leases.recover` at the next start (one process owns the database)."""
        self.db = db
        self.queue = queue
        self.leases = leases
        self.broker = broker
        self.runner = runner
        self.settler = settler
        self.concurrency = max(concurrency, 0)
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self._free_slots = self.concurrency
        # Whether pending runs may be waiting in the database. Runs that start at creation
        # (the common case) never set it, so finishing them costs no claim transaction.
        self._backlog = True
        self._next_due: datetime | None = None
        self._stopping = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        # Why each cancelled run's task was cancelled: a user's action (interrupt | rollback),
        # HANDOFF or LEASE_LOST. A cancellation without an entry is the process stopping at once.
        self._cancel_actions: dict[uuid.UUID, str] = {}
        # Runs whose slot went to the run claimed when they settled (see _execute).
        self._slot_passed: set[uuid.UUID] = set()
        # Cancels asked of runs stored `running` but not launched yet (a moment between a run's
        # creation and its task, or a claim in flight), by when they are forgotten.
        self._early_cancels: dict[uuid.UUID, tuple[str, float]] = {}

    async def start(self) -> None:
        metrics.queue_started()
        await self.leases.recover()
        await self.queue.start(self._cancel_here)
        if self.concurrency:
            await self.leases.start(self._running.keys, self._leases_lost)
            self._dispatcher = asyncio.create_task(self._dispatch(), name="run-dispatcher")

    async def stop(self) -> None:
        """Shutdown: no more claims; runs in flight finish within the grace period and are then
        handed back to the queue, or (no grace period) stay `running` for `Leases.recover`."""
        self._stopping = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        tasks = list(self._running.values())
        if tasks and self.shutdown_grace_seconds:
            logger.info("waiting up to %gs for %d run(s) to finish", self.shutdown_grace_seconds, len(tasks))
            await asyncio.wait(tasks, timeout=self.shutdown_grace_seconds)
        for run_id, task in list(self._running.items()):
            if self.shutdown_grace_seconds is not None:
                self._cancel_actions[run_id] = HANDOFF
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.leases.stop()
        await self.queue.stop()

    # -- taking runs ----------------------------------------------------------------------

    def reserve_slot(self) -> Lease | None:
        """Take an execution slot now if one is free (no waiting): the lease a run stored as
        `running` gets; pair with `submit(started=True)` or `release_slot`. Run creation uses it
        to start a run at once. None: no free slot."""
        if self._free_slots == 0 or self._stopping:
            return None
        self._free_slots -= 1
        return self.leases.lease()

    def release_slot(self) -> None:
        self._free_slots += 1
        if self._backlog:
            self.queue.notify()

    def submit(self, run_id: uuid.UUID, thread_id: uuid.UUID, kwargs: dict[str, Any], *, started: bool,
               traceparent: str | None = None, notified: bool = False) -> None:  # fmt: skip
        """A run was stored: `started` in a slot taken with `reserve_slot` (it executes now), or
        pending (it waits for a claim, here or in another process; `notified`: the write that
        stored it told the other processes already)."""
        if started:
            self._launch(ClaimedRun(run_id, thread_id, kwargs, 1, traceparent=traceparent))
        else:
            self.wake(remote=not notified)

    def wake(self, *, remote: bool = True) -> None:
        """There may be a pending run to claim (one was stored, or a thread's queue moved);
        `remote`: tell the other processes too."""
        self._backlog = True
        self.queue.notify(remote=remote)

    def _launch(self, run: ClaimedRun) -> None:
        """Execute a run already marked `running`, in a slot it holds."""
        if run.attempt == 1:
            self.broker.open(run.run_id)  # now: a listener a moment later follows it from here
        # A claimed run waited since its creation (or due time); one started at its creation did not.
        waited = (datetime.now(UTC) - run.created_at).total_seconds() if run.created_at else 0.0
        metrics.run_started(_graph_id(run.kwargs), attempt=run.attempt, queue_wait_seconds=waited)
        task = asyncio.create_task(self._execute(run), name=f"run-{run.run_id}")
        self._running[run.run_id] = task
        task.add_done_callback(functools.partial(self._finished, run.run_id))
        early = self._early_cancels.pop(run.run_id, None)
        action = run.cancel_requested or (early[0] if early else None)
        if action:  # asked before this process had it running
            self._cancel_here(run.run_id, action)

    async def _dispatch(self) -> None:
        while True:
            run = await self._claim() if self._backlog and self.reserve_slot() else None
            if run is not None:
                self._launch(run)
                continue
            if await self.queue.wait(self._seconds_to_wait()):
                self._backlog = True

    def _seconds_to_wait(self) -> float:
        if self._next_due is None:
            return SAFETY_POLL_SECONDS
        due_in = (self._next_due - datetime.now(UTC)).total_seconds()
        return min(max(due_in, 0.001), SAFETY_POLL_SECONDS)

    async def _claim(self) -> ClaimedRun | None:
        """Claim the next run in the slot just reserved; the slot is given back if there is none."""
        now, began = datetime.now(UTC), time.perf_counter()
        try:
            async with self.db.write() as sql:
                claimed = await self.queue.claim(sql, now, self.leases.lease())
                self._next_due = await runs.next_due(sql, now) if claimed is None else None
            metrics.run_claim(time.perf_counter() - began, claimed=claimed is not None,
                              taken_over=claimed is not None and claimed.taken_over)  # fmt: skip
        except Exception as exc:
            logger.error("claiming the next run failed (not claiming for %gs): %s", CLAIM_RETRY_SECONDS, exc)
            claimed, self._next_due = None, now
            await asyncio.sleep(CLAIM_RETRY_SECONDS)
        if claimed is None:
            self._backlog = False
            self._free_slots += 1
        return claimed

    def _finished(self, run_id: uuid.UUID, _task: asyncio.Task[None] | None = None) -> None:
        metrics.run_left()
        self._running.pop(run_id, None)
        self._cancel_actions.pop(run_id, None)
        if run_id in self._slot_passed:
            self._slot_passed.discard(run_id)  # a claimed run has its slot already
            return
        # The slot is free, and the thread's next run (if any) may go now.
        self.release_slot()

    # -- executing ------------------------------------------------------------------------

    async def _execute(self, run: ClaimedRun) -> None:
        configurable = run.kwargs["config"]["configurable"]
        ids = {"run_id": str(run.run_id), "thread_id": str(run.thread_id), "graph_id": configurable["graph_id"]}
        if configurable.get("assistant_id"):
            ids["assistant_id"] = str(configurable["assistant_id"])
        if user := configurable.get("langgraph_auth_user_id"):
            ids["user"] = str(user)  # who created the run, also when it runs later or elsewhere
        with logs.scope(**ids), tracing.run_span(run.run_id, ids["graph_id"], created_at=run.created_at,
                                                  attempt=run.attempt, parent=run.traceparent):  # fmt: skip
            await self._execute_traced(run)

    async def _execute_traced(self, run: ClaimedRun) -> None:
        run_id, thread_id, kwargs = run.run_id, run.thread_id, run.kwargs
        graph_id = _graph_id(kwargs)
        started = time.monotonic()
        failed_commits = self.db.failed_commits
        ended = True  # whether the run's stream ends here (not when another process goes on with it)
        try:
            if run.attempt > 1:
                await self.broker.resume(run_id)
            outcome = await self._run_graph(run, graph_id)
            if outcome.cancel_action in (HANDOFF, LEASE_LOST, OUTAGE):
                ended = False
                await self._give_back(run_id, outcome.cancel_action)
                return
            if outcome.cancel_action == "rollback":
                await self.settler.rollback(run_id, thread_id)  # first: the thread's state is what remains
            if outcome.summary is None:
                outcome.summary = await self.runner.summary(graph_id, thread_id, run_id)
            settled, claimed = await self._settle(run_id, thread_id, kwargs, outcome, failed_commits)
            if claimed is not None:
                # The next run goes in this run's slot at once (the rest here is bookkeeping).
                self._slot_passed.add(run_id)
                self._launch(claimed)
            if settled is None:
                ended = False  # another process took the run over: its stream goes on there
                metrics.lease_lost("settling")
                return
            metrics.run_finished(graph_id, settled.status, time.monotonic() - started)
            if settled.thread_busy:
                self.wake()  # the thread has queued runs
            await self.settler.after(run_id, thread_id, kwargs, settled)
        except Exception as exc:
            if is_outage(exc):
                ended = False  # it is resumed once its lease runs out, and its stream goes on then
                logger.error("run %s: not settled, the database is away (%s); its lease will run out", run_id, exc)
            else:
                logger.exception("run %s: recording its outcome failed", run_id)
        finally:
            await self.broker.close(run_id, ended=ended)

    async def _settle(self, run_id: uuid.UUID, thread_id: uuid.UUID, kwargs: dict[str, Any], outcome: Outcome,
                      failed_commits: int) -> tuple[Settled | None, ClaimedRun | None]:  # fmt: skip
        """Record the outcome and, when runs may be waiting, claim the next for this slot, in one
        transaction; tried again while the database is away (`SETTLE_RETRY_SECONDS`)."""
        for pause in (*SETTLE_RETRY_SECONDS, None):
            claim_next = self._backlog and not self._stopping
            now = datetime.now(UTC)
            # A settle alone is one statement on PostgreSQL (db/tables/runs.py `settle`): it needs
            # no transaction around it, whose BEGIN and COMMIT were two of its three round trips.
            alone = not claim_next and not self.settler.needs_transaction(kwargs)
            try:
                async with self.db.single_statements() if alone else self.db.write() as sql:
                    # Looked at within the settle's own turn: by then every group with the run's
                    # writes has committed, failed and been counted, or is the settle's own.
                    lost = self.db.failed_commits != failed_commits
                    settled = await self.settler.settle(
                        sql, run_id, thread_id, outcome, kwargs=kwargs, lost_writes=lost, owner=self.leases.owner,
                        now=now,
                    )  # fmt: skip
                    claimed = await self.queue.claim(sql, now, self.leases.lease()) if claim_next else None
            except Exception as exc:
                if pause is None or not is_outage(exc):
                    raise
                logger.warning("run %s: the database is away (%s); settling again in %gs", run_id, exc, pause)
                await asyncio.sleep(pause)
                continue
            if claim_next and claimed is None:
                self._backlog = False
            return settled, claimed
        raise AssertionError("unreachable")

    async def _run_graph(self, run: ClaimedRun, graph_id: str) -> Outcome:
        """The graph's outcome; a run cancelled by a user is `interrupted`, one handed back carries
        HANDOFF or LEASE_LOST (a cancellation without a reason is the process stopping at once,
        and propagates)."""
        try:
            # Under `async`/`exit` durability the checkpoint writes need not be durable before the
            # run goes on: its settle waits for a COMMIT that covers them (db/group_commit.py).
            with self.db.writes_may_lag(run.kwargs.get("durability") != "sync"), tracing.graph_span():
                return await self.runner.run(run.run_id, graph_id, run.kwargs, run.attempt)
        except asyncio.CancelledError:
            action = self._cancel_actions.get(run.run_id)
            if action is None:
                raise  # the server is stopping: leave the run for recovery
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return Outcome("interrupted", cancel_action=action)
        except Exception as exc:
            if not is_outage(exc):
                raise
            logger.warning("run %s: the database went away under it (%s); it goes back to the queue", run.run_id, exc)
            return Outcome("interrupted", cancel_action=OUTAGE)

    async def _give_back(self, run_id: uuid.UUID, why: str) -> None:
        """A run this process stops without ending it: back to the queue for another process
        (HANDOFF) or another try (OUTAGE), or already someone else's (LEASE_LOST)."""
        if why == LEASE_LOST:
            metrics.lease_lost("executing")
            logger.warning("run %s stopped here: its lease ran out and another process may have it", run_id)
            return
        try:
            async with self.db.write() as sql:
                released = await runs.release(
                    sql, run_id, self.leases.owner, datetime.now(UTC), count_attempt=why == OUTAGE
                )
        except Exception as exc:
            if not is_outage(exc):
                raise
            logger.warning("run %s: not given back (%s); it is taken over when its lease runs out", run_id, exc)
            return
        if released:
            metrics.run_given_back(why)
            logger.info("run %s given back to the queue (%s)", run_id, why)
            self.wake()

    # -- cancelling -----------------------------------------------------------------------

    async def cancel(self, thread_id: uuid.UUID, run_id: uuid.UUID, action: str) -> None:
        """Stop a run: `interrupt` (it ends `interrupted`) or `rollback` (it and its checkpoints
        are deleted). A run executing here stops at its next step; a pending one never starts; one
        running in another process is stopped there."""
        metrics.run_cancel(action)
        if self._cancel_here(run_id, action):
            return
        now = datetime.now(UTC)
        async with self.db.write() as sql:
            ended = await runs.end_pending(sql, run_id, delete_it=action == "rollback", now=now)
            if ended:
                thread = await threads.get(sql, thread_id)
                if thread is not None and not await runs.any_in_flight(sql, thread_id):
                    status = "interrupted" if thread.interrupts else "idle"
                    await threads.update_fields(sql, thread_id, {"status": status, "updated_at": now})
        if ended:
            await self.broker.close(run_id, ended=True)
            self.wake()
            return
        self._remember_early_cancel(run_id, action)
        await self.queue.request_cancel(run_id, action)

    def _remember_early_cancel(self, run_id: uuid.UUID, action: str) -> None:
        now = time.monotonic()
        for stale in [key for key, (_, until) in self._early_cancels.items() if until < now]:
            del self._early_cancels[stale]
        self._early_cancels[run_id] = (action, now + EARLY_CANCEL_SECONDS)

    def _cancel_here(self, run_id: uuid.UUID, action: str) -> bool:
        """Cancel a run executing in this process; False if it is not running here."""
        task = self._running.get(run_id)
        if task is None:
            return False
        if run_id not in self._cancel_actions:
            self._cancel_actions[run_id] = action
            task.cancel()
        return True

    def _leases_lost(self) -> None:
        for run_id in list(self._running):
            self._cancel_here(run_id, LEASE_LOST)


def _graph_id(kwargs: dict[str, Any]) -> str:
    return kwargs["config"]["configurable"]["graph_id"]
