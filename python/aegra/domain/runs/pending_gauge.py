"""`aegra_runs_pending` kept fresh for `--metrics-port`.

A scrape of the API port counts the pending runs itself (domain/system/controllers.py). The
separate metrics port is served by the server's main process, which has no database (only the
workers have one), so it shows the last count a worker made: with `--metrics-port` each worker
recounts every REFRESH_SECONDS, and the gauge (`livemostrecent` over live workers) is at most that
old. Without `--metrics-port` nothing runs here: the scrape's own count is fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aegra.db.engine import Database
from aegra.db.tables import runs
from aegra.telemetry import exposition, metrics

logger = logging.getLogger(__name__)

# Below Prometheus' usual scrape interval (15 s), so that a scrape rarely sees a count older
# than one interval; one COUNT over the pending runs (an index on status) per worker each time.
REFRESH_SECONDS = 5.0


async def count_now(db: Database) -> None:
    async with db.read() as sql:
        metrics.runs_pending(await runs.count_pending(sql))


async def _refresh(db: Database, seconds: float) -> None:
    while True:
        try:
            await count_now(db)
        except Exception as exc:  # the database away: the gauge keeps its last count
            logger.warning("metrics: runs pending not counted: %s", exc)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def refreshing(db: Database, seconds: float = REFRESH_SECONDS) -> AsyncIterator[None]:
    if not exposition.separate_port():
        yield
        return
    task = asyncio.create_task(_refresh(db, seconds), name="runs-pending-gauge")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
