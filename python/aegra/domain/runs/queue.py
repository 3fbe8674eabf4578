"""The seams between the executor and the other processes: the queue, and the leases of runs.

The database is the queue (db/tables/runs.py): a run is `pending` until claimed, so nothing is
lost when a process dies. What differs between one process and many is how a process learns
that there is work or a cancel for it (`RunQueue`), and what happens to the runs of a process
that died (`Leases`). The executor is the only caller of both.

- One process owns a SQLite file: `LocalQueue` wakes the executor in-process, and
  `SingleProcessLeases` settles at start the runs the process left running when it stopped.
- Many processes share a PostgreSQL database: `PostgresQueue` wakes them with LISTEN/NOTIFY
  (db/notifications.py), and `PostgresLeases` renews the leases of this process's runs; a run
  whose lease runs out is claimed by another process, which resumes it from its last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Collection, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aegra.db import notifications
from aegra.db.engine import Database
from aegra.db.statements import Statements
from aegra.db.tables import runs
from aegra.db.tables.runs import ClaimedRun, Lease
from aegra.telemetry import metrics

logger = logging.getLogger(__name__)

# A run taken over from a lost process this many times ends `error` instead of a fourth try.
MAX_ATTEMPTS = 3

CancelHandler = Callable[[uuid.UUID, str], object]


class RunQueue(Protocol):
    async def claim(self, sql: Statements, now: datetime, lease: Lease) -> ClaimedRun | None:
        """Mark the next claimable run `running` in the caller's write transaction, and return it."""

    def notify(self, *, remote: bool = True) -> None:
        """There may be a run to claim: one was stored, a thread's queue moved, a slot came free.
        `remote` False: only this process needs telling (the write that stored the run sent the
        NOTIFY with it)."""

    async def wait(self, seconds: float) -> bool:
        """Return when notified, or after `seconds`; True when the database should be looked at
        (the time is up, or another process said so)."""

    async def request_cancel(self, run_id: uuid.UUID, action: str) -> None:
        """Ask the process that runs `run_id` (not this one) to cancel it."""

    async def start(self, on_cancel: CancelHandler) -> None:
        """Begin listening; `on_cancel(run_id, action)` for cancels asked of this process."""

    async def stop(self) -> None: ...


class LocalQueue:
    """Wake-ups within this process: every run is created and executed here."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._wakeup = asyncio.Event()

    async def claim(self, sql: Statements, now: datetime, lease: Lease) -> ClaimedRun | None:
        return await runs.claim_next(sql, now, lease, max_attempts=MAX_ATTEMPTS)

    def notify(self, *, remote: bool = True) -> None:
        self._wakeup.set()

    async def wait(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            return True
        finally:
            self._wakeup.clear()
        return False

    async def request_cancel(self, run_id: uuid.UUID, action: str) -> None:
        return None  # no other process

    async def start(self, on_cancel: CancelHandler) -> None:
        return None

    async def stop(self) -> None:
        return None


class PostgresQueue(LocalQueue):
    """Wake-ups from every process sharing the database, through LISTEN/NOTIFY."""

    def __init__(self, db: Database, listener: notifications.Listener, owner: str) -> None:
        super().__init__(db)
        self.listener = listener
        self.owner = owner
        self._on_cancel: CancelHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        listener.on(notifications.RUNS, self._remote_work)
        listener.on(notifications.CANCEL, self._remote_cancel)

    def notify(self, *, remote: bool = True) -> None:
        super().notify()
        if remote:
            self._in_background(self._send(notifications.RUNS, ""))

    async def wait(self, seconds: float) -> bool:
        await super().wait(seconds)
        return True  # a wake-up may have come from another process: always look

    async def request_cancel(self, run_id: uuid.UUID, action: str) -> None:
        async with self.db.write() as sql:
            if await runs.request_cancel(sql, run_id, action):
                await notifications.notify(sql, notifications.CANCEL, str(run_id))

    async def start(self, on_cancel: CancelHandler) -> None:
        self._on_cancel = on_cancel

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _remote_work(self, _payload: str) -> None:
        super().notify()

    def _remote_cancel(self, payload: str) -> None:
        self._in_background(self._apply_cancels(payload))

    async def _apply_cancels(self, payload: str) -> None:
        """The cancel requests of this process's runs (all of them: the payload only names which)."""
        if self._on_cancel is None:
            return
        async with self.db.read() as sql:
            requests = await runs.cancel_requests(sql, self.owner)
        for run_id, action in requests:
            if not payload or str(run_id) == payload:
                self._on_cancel(run_id, action)

    async def _send(self, channel: str, payload: str) -> None:
        try:
            async with self.db.read() as sql:
                await notifications.notify(sql, channel, payload)
        except Exception as exc:  # other processes find the work on their next look
            logger.warning("NOTIFY %s failed: %s", channel, exc)

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class Leases(Protocol):
    owner: str

    def lease(self) -> Lease:
        """The lease a run claimed now gets."""

    async def recover(self) -> None:
        """At start: settle what a process that died left behind, where that is this process's to do."""

    async def start(self, running: Callable[[], Collection[uuid.UUID]], on_lost: Callable[[], None]) -> None:
        """Keep the leases of the runs `running()` names alive; `on_lost()` when they could not be
        renewed in time."""

    async def stop(self) -> None: ...


class SingleProcessLeases:
    """One process owns the database: its leases never run out, and at its start every run still
    `running` was its own before it stopped, and ends `error` (it never stays running)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.owner = uuid.uuid4().hex

    def lease(self) -> Lease:
        return Lease(self.owner, None)

    async def recover(self) -> None:
        async with self.db.write() as sql:
            failed = await runs.fail_orphans(sql, datetime.now(UTC))
        if failed:
            logger.warning("%d run(s) were running when the server stopped; marked as error", len(failed))

    async def start(self, running: Callable[[], Collection[uuid.UUID]], on_lost: Callable[[], None]) -> None:
        return None

    async def stop(self) -> None:
        return None


class PostgresLeases:
    """Leases of `seconds`, renewed every third of that. A process that cannot renew them in time
    (the database is unreachable) stops its runs: by then another process may have taken them over,
    and a run must not execute twice at once."""

    def __init__(self, db: Database, seconds: float) -> None:
        self.db = db
        self.seconds = seconds
        self.owner = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None

    def lease(self) -> Lease:
        return Lease(self.owner, datetime.now(UTC) + timedelta(seconds=self.seconds))

    async def recover(self) -> None:
        return None  # runs of a dead process are claimed once their lease runs out (runs.claim_next)

    async def start(self, running: Callable[[], Collection[uuid.UUID]], on_lost: Callable[[], None]) -> None:
        self._task = asyncio.create_task(self._renew(running, on_lost), name="lease-renewal")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _renew(self, running: Callable[[], Collection[uuid.UUID]], on_lost: Callable[[], None]) -> None:
        renewed = datetime.now(UTC)
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                lease = self.lease()
                async with self.db.write() as sql:
                    await runs.renew_leases(sql, self.owner, list(running()), lease.expires_at)  # type: ignore[arg-type]
                renewed = datetime.now(UTC)
                metrics.lease_renewal(ok=True)
            except Exception as exc:
                metrics.lease_renewal(ok=False)
                logger.error("renewing this process's run leases failed: %s", exc)
                if datetime.now(UTC) - renewed > timedelta(seconds=self.seconds * 0.9):
                    logger.error("the leases of this process's runs ran out; stopping them for another process")
                    on_lost()
