"""The run queue: bounded concurrency, one active run per thread, cancellation, restart safety.

The database is the queue: a run is `pending` until a worker claims it (see
run_statements.NEXT_CLAIMABLE_RUN), so nothing is lost when the process dies, and pending runs start
after a restart. Workers wake when a run is created or finishes, and poll now and then for
runs whose `after_seconds` delay has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import msgspec

from aegra.db.models import Run as RunRow
from aegra.db.repositories import RunRepository
from aegra.db.run_statements import ClaimedRun, claim_next_run
from aegra.domain.runs.execution import (
    ExecutionDeps,
    Settled,
    execute_run,
    record_outcome,
    rollback_run,
)
from aegra.domain.runs.schemas import from_row

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class Executor:
    """One dispatcher claims runs while a slot is free; each claimed run executes in its own task.

    A single claimer (rather than every worker polling) keeps the claim transactions to about
    one per run: on SQLite each is a write transaction, and a herd of idle workers racing for
    the lock after every run would cost more than the runs themselves.
    """

    def __init__(self, deps: ExecutionDeps, concurrency: int) -> None:
        self.deps = deps
        self.concurrency = max(concurrency, 1)
        self._wakeup = asyncio.Event()
        self._free_slots = self.concurrency
        # Whether pending runs may be waiting in the database. Runs that start at creation
        # (the common case) never set it, so finishing them costs no claim transaction.
        self._backlog = True
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._cancel_actions: dict[uuid.UUID, str] = {}
        # Runs whose slot went to the run claimed when they settled (see _execute).
        self._slot_passed: set[uuid.UUID] = set()

    async def start(self) -> None:
        async with self.deps.db.session() as session:
            failed = await RunRepository(session=session).fail_interrupted_by_restart(datetime.now(UTC))
        if failed:
            logger.warning("%d run(s) were running when the server stopped; marked as error", len(failed))
        self._dispatcher = asyncio.create_task(self._dispatch(), name="run-dispatcher")

    async def stop(self) -> None:
        """Shutdown: runs in flight stay `running` in the database and are settled at the next start."""
        tasks = [t for t in [self._dispatcher, *self._running.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._dispatcher = None

    def wake(self) -> None:
        """There may be a pending run to claim (one was stored, or a thread's queue moved)."""
        self._backlog = True
        self._wakeup.set()

    def reserve(self) -> bool:
        """Take an execution slot now if one is free (no waiting); pair with `launch` or `release`.

        Run creation uses this to start a run the moment it is stored as `running`, skipping
        the claim round trip through the database.
        """
        if self._free_slots == 0:
            return False
        self._free_slots -= 1
        return True

    def release(self) -> None:
        self._free_slots += 1
        if self._backlog:
            self._wakeup.set()

    def launch(self, run_id: uuid.UUID, thread_id: uuid.UUID, kwargs: dict, attempt: int) -> None:
        """Execute a run already marked `running`, in a slot taken with `reserve()`."""
        task = asyncio.create_task(self._execute(run_id, thread_id, kwargs, attempt), name=f"run-{run_id}")
        self._running[run_id] = task
        task.add_done_callback(lambda _, run_id=run_id: self._finished(run_id))

    async def cancel(self, run_id: uuid.UUID, action: str) -> bool:
        """Stop a run this process is executing; False if it is not running here."""
        task = self._running.get(run_id)
        if task is None:
            return False
        self._cancel_actions[run_id] = action
        task.cancel()
        return True

    async def _dispatch(self) -> None:
        while True:
            self._wakeup.clear()
            run = await self._claim() if self._backlog and self.reserve() else None
            if run is not None:
                self.launch(*run)
                continue
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wakeup.wait()
            except TimeoutError:
                # Look again now and then: delayed runs (after_seconds) come due on their own.
                self._backlog = True

    def _finished(self, run_id: uuid.UUID) -> None:
        self._running.pop(run_id, None)
        if run_id in self._slot_passed:
            self._slot_passed.discard(run_id)  # a claimed run has its slot already
            return
        # The slot is free, and the thread's next run (if any) may go now.
        self.release()

    async def _claim(self) -> ClaimedRun | None:
        """Claim the next due run in the slot just reserved; the slot is given back if there is none."""
        try:
            async with self.deps.db.direct.write() as sql:
                claimed = await claim_next_run(sql, datetime.now(UTC))
        except Exception:
            logger.exception("claiming the next run failed")
            claimed = None
        if claimed is None:
            self._backlog = False
            self._free_slots += 1
        return claimed

    async def _execute(self, run_id: uuid.UUID, thread_id: uuid.UUID, kwargs: dict, attempt: int) -> None:
        graph_id = kwargs["config"]["configurable"]["graph_id"]
        failed_commits = self.deps.db.direct.failed_commits
        self.deps.broker.open(run_id)
        try:
            outcome = await execute_run(run_id, graph_id, kwargs, attempt, self.deps, self._cancel_actions)
            if outcome.cancel_action == "rollback":
                await rollback_run(self.deps, thread_id, run_id)
            claim_next = self._backlog
            settled = await record_outcome(
                run_id, thread_id, graph_id, outcome, self.deps,
                failed_commits_at_start=failed_commits, claim_next=claim_next,
            )  # fmt: skip
            if settled.claimed is not None:
                # The next run goes in this run's slot at once (the rest here is bookkeeping).
                self._slot_passed.add(run_id)
                self.launch(*settled.claimed)
            elif claim_next:
                self._backlog = False
            if settled.thread_busy:
                self.wake()  # the thread has queued runs
            if kwargs.get("webhook") and self.deps.webhooks is not None:
                await self._send_webhook(run_id, kwargs["webhook"], settled)
            if kwargs.get("temporary") and self.deps.delete_threads is not None:
                # A stateless run's thread existed only for it (on_completion=delete).
                await self.deps.delete_threads([thread_id])
        except Exception:
            logger.exception("run %s: recording its outcome failed", run_id)
        finally:
            await self.deps.broker.close(run_id)

    async def _send_webhook(self, run_id: uuid.UUID, url: str, settled: Settled) -> None:
        async with self.deps.db.read_session() as session:
            row = await session.get(RunRow, run_id)
        if row is None or self.deps.webhooks is None:
            return
        payload = {
            **msgspec.structs.asdict(from_row(row)),
            "run_started_at": row.started_at,
            "run_ended_at": row.ended_at,
            "values": settled.values,
        }
        if row.error is not None:
            payload["error"] = row.error
        self.deps.webhooks.send(url, payload)
