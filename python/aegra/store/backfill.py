"""The background embedder: embeds the items saved while the embedder was unavailable.

A put whose texts cannot be embedded (`EmbeddingUnavailableError`: no model yet, no network, the
user's function raising) is saved at once with no vectors and a "waiting" mark in the database
(SQLite: `store_items_waiting`; PostgreSQL: `store_waiting_vectors`), so a restart keeps the list.
One `Backfill` task per store (per process) then works through the marks:

- it claims a batch (`WaitingQueue.claim`: fewest failed attempts first), embeds it with the
  model allowed to load or download (`embeddings.in_background`) and saves the vectors, which
  clears the marks (`WaitingQueue.save`: only for items not written again since the claim);
- when the batch fails, one item alone tells whether the embedder is down (it fails too: every
  claimed item waits for the next round) or one item is to blame (it works: the others are
  embedded one by one, and the failing ones get an attempt more, which sends them to the back);
- after a failed round it waits 1 s, doubling to 5 min, not woken by new puts meanwhile (each
  would cost a call of an embedder that is down); when idle it waits for a put that leaves items
  waiting (`wake`), or POLL_SECONDS (another process's marks on PostgreSQL, expired claims).

While the embedder is known to be down (`down`: a put or a round failed, and no round has
worked since), puts do not call it: they are saved waiting, without paying for a call that fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from aegra.store.embeddings import EmbeddingUnavailableError, in_background

logger = logging.getLogger(__name__)

T = TypeVar("T")

BATCH = 64  # items a claim
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 300.0
POLL_SECONDS = 30.0


class WaitingQueue(Protocol[T]):
    """A store's waiting marks, as the background embedder uses them."""

    async def claim(self, limit: int) -> list[T]:
        """Up to `limit` waiting items, fewest failed attempts first (none: nothing waits)."""
        ...

    async def save(self, items: Sequence[T]) -> int:
        """Embed the items and save their vectors, clearing their marks (except for items written
        again since the claim); returns how many were saved. Raises what the embedder raises."""
        ...

    async def release(self, items: Sequence[T], *, failed: bool) -> None:
        """Give the claim back; `failed`: count an attempt against each item."""
        ...


class Backfill(Generic[T]):
    def __init__(self, queue: WaitingQueue[T], name: str) -> None:
        self.queue = queue
        self.name = name
        self.down = False
        self.delay = FIRST_DELAY_SECONDS
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set while nothing is claimable
        self._last_error: BaseException | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"aegra-store-backfill-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """A put left items waiting."""
        self._idle.clear()
        self._wake.set()

    def went_down(self, exc: BaseException) -> None:
        """A put or a query could not be embedded: until a round works, puts are saved waiting
        without calling the embedder, and semantic searches are answered unranked."""
        if not self.down:
            logger.warning(
                "store: the embedder is unavailable (%s); items are saved and wait for their vectors "
                "(embedded in the background once it answers), semantic searches are answered unranked",
                exc,
            )
        self.down = True

    async def _run(self) -> None:
        while True:
            try:
                outcome = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database itself failed (PostgreSQL restarting...): try again later.
                logger.exception("store: the background embedder failed; retrying in %.0f s", self.delay)
                outcome = "failed"
            if outcome == "progress":
                if self.down:
                    logger.info("store: the embedder answers again; embedding the waiting items")
                self.down = False
                self.delay = FIRST_DELAY_SECONDS
                continue
            if outcome == "failed":
                await asyncio.sleep(self.delay)
                self.delay = min(self.delay * 2, MAX_DELAY_SECONDS)
                continue
            self._idle.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _round(self) -> str:
        """One claim: "progress" (something was embedded), "failed" (the embedder is down), or
        "idle" (nothing waits)."""
        items = await self.queue.claim(BATCH)
        if not items:
            return "idle"
        if await self._save(items):
            return "progress"
        if len(items) == 1:
            await self.queue.release(items, failed=True)
            return self._failed(len(items))
        first, rest = items[:1], items[1:]
        if not await self._save(first):
            await self.queue.release(first, failed=True)
            await self.queue.release(rest, failed=False)
            return self._failed(len(items))
        # The embedder works: some item of the batch is what fails. The others, one by one.
        for item in rest:
            if not await self._save([item]):
                await self.queue.release([item], failed=True)
        return "progress"

    async def _save(self, items: Sequence[T]) -> bool:
        try:
            with in_background():
                saved = await self.queue.save(items)
        except (EmbeddingUnavailableError, ValueError) as exc:
            # ValueError: the embedder's output for some text is unusable (wrong size, NaN).
            self._last_error = exc
            return False
        if saved:
            logger.info("store: embedded %d waiting item(s)", saved)
        return True

    def _failed(self, count: int) -> str:
        self.went_down(self._last_error or EmbeddingUnavailableError("unknown"))
        logger.info("store: %d item(s) still wait for their vectors; next attempt in %.0f s", count, self.delay)
        return "failed"

    async def wait_idle(self) -> None:
        """Until nothing is claimable (for tests and `aegra db import`)."""
        await self._idle.wait()
