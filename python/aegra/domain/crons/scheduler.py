"""The cron scheduler: every few seconds, fire the crons that are due.

A cron is due when it is enabled, its `next_run_date` has come and its `end_time` (if any) has
not. Each due cron is first claimed (its `next_run_date` moved to the schedule's next time
after now, see db/tables/crons.py `claim`), then fired: a run is created through the runs service,
exactly as `POST /runs` or `POST /threads/{id}/runs` would, on behalf of the cron's creator.
Claiming first means a firing happens at most once even with several workers or servers on
one database; missed firings (the server was down) are not caught up one by one: a late cron
fires once, then follows its schedule from now.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aegra.auth import ANONYMOUS, AuthUser, RequestAuth
from aegra.db.engine import Database
from aegra.db.tables import crons
from aegra.domain.crons.schedule import next_run_date
from aegra.domain.crons.services import run_request
from aegra.domain.runs.services import RunService
from aegra.errors import AegraError
from aegra.periodic import PeriodicSweep

if TYPE_CHECKING:
    from langgraph_sdk import Auth

logger = logging.getLogger(__name__)

BATCH_LIMIT = 100


class CronScheduler:
    def __init__(self, db: Database, runs: RunService, auth: Auth | None, *, interval_seconds: float,
                 batch_limit: int = BATCH_LIMIT) -> None:  # fmt: skip
        """`auth`: the server's `Auth` object, whose handlers judge each firing as they judge the creator's requests."""
        self.db = db
        self.runs = runs
        self.auth = auth
        self.batch_limit = batch_limit
        self._periodic = PeriodicSweep(self._sweep, interval_seconds / 60, "crons")

    async def fire_due(self, now: datetime | None = None) -> int:
        """Fire every cron due at `now`; returns how many this call fired."""
        now = now or datetime.now(UTC)
        async with self.db.read() as sql:
            due = await crons.due(sql, now, self.batch_limit)
        fired = 0
        for cron in due:
            try:
                following = next_run_date(cron.schedule, now, cron.timezone)
                async with self.db.write() as sql:
                    claimed = await crons.claim(sql, cron.cron_id, now, following)
                if claimed is not None:
                    fired += 1
                    await self._fire(claimed)
            except AegraError as exc:
                # Refused as a request would be (thread busy with `reject`, access lost...): not a bug.
                logger.warning("cron %s: no run this time: %s", cron.cron_id, exc.detail)
            except Exception:
                # One cron's failure must not stop the others; it fires again at its next time.
                logger.exception("cron %s: firing failed", cron.cron_id)
        return fired

    async def _fire(self, cron: Any) -> None:
        if not cron.user_id:  # made without auth ("", or None before langgraph-api's "" was adopted)
            auth = RequestAuth(ANONYMOUS, None)
        else:
            # As langgraph-api: the creator is known by identity alone (permissions are not kept).
            auth = RequestAuth(AuthUser({"identity": cron.user_id}), self.auth)
        thread_id = str(cron.thread_id) if cron.thread_id is not None else None
        run = await self.runs.create(thread_id, run_request(cron), auth=auth)
        logger.info("cron %s fired run %s on thread %s", cron.cron_id, run.run_id, run.thread_id)

    async def _sweep(self) -> int:
        await self.fire_due()
        # PeriodicSweep logs a returned count as things removed; firings are logged above instead.
        return 0

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
