"""A background task that runs a sweep (store items, threads past their TTL) every few minutes until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_MINUTES = 5.0


class PeriodicSweep:
    """`sweep()` returns how many things it removed; `label` names them in the log."""

    def __init__(self, sweep: Callable[[], Awaitable[int]], interval_minutes: float | None, label: str) -> None:
        self._sweep = sweep
        self._label = label
        self._interval_minutes = interval_minutes
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, interval_minutes: float | None = None) -> asyncio.Task[None]:
        if self._task is not None and not self._task.done():
            return self._task
        minutes = interval_minutes or self._interval_minutes or DEFAULT_INTERVAL_MINUTES
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(minutes * 60), name=f"aegra-sweep-{self._label}")
        return self._task

    async def stop(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (mirrors the store API)
        task, self._task = self._task, None
        if task is None or task.done():
            return True
        self._stop.set()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return True

    async def _run(self, interval_seconds: float) -> None:
        while not self._stop.is_set():
            try:
                swept = await self._sweep()
                if swept:
                    logger.info("TTL sweep removed %d expired %s", swept, self._label)
            except Exception:
                # A failed sweep (e.g. a locked file) must not end the sweeper; the next one retries.
                logger.exception("TTL sweep of %s failed", self._label)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval_seconds)
