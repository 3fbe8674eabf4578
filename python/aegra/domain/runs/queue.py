"""The seams between the executor and where runs wait: the queue, and the leases of running runs.

The database is the queue (db/tables/runs.py): a run is `pending` until claimed, so nothing is
lost when a process dies. What differs between one process and many is how a process learns
that there is work (`RunQueue.notify`/`wait`) and what happens to runs whose process died
(`Leases.recover`). The executor is the only caller of both.

`LocalQueue` and `SingleProcessLeases` are the one-process implementations (SQLite, where one
server process owns the file).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Protocol

from aegra.db.engine import Database
from aegra.db.statements import Statements
from aegra.db.tables import runs
from aegra.db.tables.runs import ClaimedRun

logger = logging.getLogger(__name__)


class RunQueue(Protocol):
    async def claim(self, sql: Statements, now: datetime) -> ClaimedRun | None:
        """Mark the next due pending run `running` in the caller's write transaction, and return it."""

    def notify(self) -> None:
        """There may be a run to claim: one was stored, a thread's queue moved, a slot came free."""

    async def wait(self, seconds: float) -> bool:
        """Return when notified, or after `seconds`; True when the database should be
        looked at anyway (the time is up: delayed runs come due on their own)."""


class LocalQueue:
    """Wake-ups within this process: every run is created and executed here."""

    def __init__(self) -> None:
        self._wakeup = asyncio.Event()

    async def claim(self, sql: Statements, now: datetime) -> ClaimedRun | None:
        return await runs.claim_next(sql, now)

    def notify(self) -> None:
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


class Leases(Protocol):
    async def recover(self) -> None:
        """At start: settle the runs that a process which died left `running`."""


class SingleProcessLeases:
    """One process owns the database: at its start, every run still `running` was this
    process's before it stopped, and ends `error` (it never stays running)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def recover(self) -> None:
        async with self.db.write() as sql:
            failed = await runs.fail_interrupted_by_restart(sql, datetime.now(UTC))
        if failed:
            logger.warning("%d run(s) were running when the server stopped; marked as error", len(failed))
