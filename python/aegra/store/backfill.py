"""The background embedder: embeds the items saved while the embedder was unavailable.

A put whose texts cannot be embedded (`EmbeddingUnavailableError`: no model yet, no network, the
user's function raising) is saved at once with no vectors and a "waiting" mark in the database
(SQLite: `store_items_waiting`; PostgreSQL: `store_waiting_vectors`), so a restart keeps the list.
One `Backfill` task per store (per process) then works through the marks:

- it claims a batch (`WaitingQueue.claim`: fewest failed attempts first), embeds it with the
  model allowed to load or download (`embeddings.in_background`) and saves the vectors, which
  clears the marks (`WaitingQueue.save`: only for items not written again since the claim);
- when the batch fails, a probe (`WaitingQueue.probe`: one fixed text) tells whether the
  embedder is down (every claimed item waits for the next round, no attempt counted) or some item
  is to blame (the items are embedded one by one; each that fails gets an attempt more, which
  sends it behind the others, so it never holds them back);
- after a failed round it waits 1 s, doubling to 5 min, not woken by new puts meanwhile (each
  would cost a call of an embedder that is down); when idle it waits for a put that leaves items
  waiting (`wake`), or POLL_SECONDS (another process's marks on PostgreSQL, expired claims).

While the embedder is known to be down (`down`: a put's or a query's call failed, or a probe did,
and nothing has worked since), puts and searches do not call it: puts are saved waiting and
searches answered unscored, without paying for a call that fails. Only this task calls it then,
probing first, until it answers (which also fetches a fastembed model that is not cached yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from aegra.store.embeddings import EmbeddingUnavailableError, in_background

logger = logging.getLogger(__name__)

T = TypeVar("T")

BATCH = 64  # items a claim
PROBE_TEXT = "Is the embedder available?"  # what a probe embeds (nothing is saved)
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 300.0
POLL_SECONDS = 30.0


class WaitingQueue(Protocol[T]):
    """A store's waiting marks, as the background embedder uses them."""

    async def claim(self, limit: int) -> list[T]:
        """Up to `limit` waiting items, fewest failed attempts first (none: nothing waits)."""
        ...

    async def save(self, items: Sequence[T]) -> int:
        """Embed the items (then call `Backfill.answered`) and save their vectors, clearing their
        marks (except for items written again since the claim); returns how many were saved.
        Raises what the embedder raises."""
        ...

    async def release(self, items: Sequence[T], *, failed: bool) -> None:
        """Give the claim back; `failed`: count an attempt against each item."""
        ...

    async def probe(self) -> None:
        """Embed one fixed text (nothing saved): raises what the embedder raises."""
        ...


class Backfill(Generic[T]):
    def __init__(self, queue: WaitingQueue[T], name: str) -> None:
        self.queue = queue
        self.name = name
        self.down = False
        self.delay = FIRST_DELAY_SECONDS
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
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
        self._wake.set()  # the task probes until the embedder answers, even with nothing waiting

    def answered(self) -> None:
        """The embedder answered a call of this task. `WaitingQueue.save` says so as soon as its
        texts are embedded, before saving: whoever then sees the items indexed finds it up."""
        if self.down:
            logger.info("store: the embedder answers again; embedding the waiting items")
            self.down = False

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
                self.delay = FIRST_DELAY_SECONDS
                continue
            if outcome == "failed":
                await asyncio.sleep(self.delay)  # not woken by puts: each would cost a failing call
            else:
                # Idle, or only items the embedder refuses are left: until a put leaves items waiting.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS if outcome == "idle" else self.delay)
            if outcome != "idle":
                self.delay = min(self.delay * 2, MAX_DELAY_SECONDS)

    async def _round(self) -> str:
        """One claim: "progress" (something was embedded, or the embedder answers again), "failed"
        (it is down), "stuck" (it answers, but refuses every item claimed), or "idle"."""
        if self.down and not await self._call(self.queue.probe):
            return self._failed()
        items = await self.queue.claim(BATCH)
        if not items:
            return "progress" if self.down else "idle"
        if await self._call(lambda: self.queue.save(items)):
            return "progress"
        if not await self._call(self.queue.probe):
            await self.queue.release(items, failed=False)
            return self._failed()
        # The embedder works: some item of the batch is what fails. One by one, then.
        saved = False
        for item in items:
            if await self._call(lambda: self.queue.save([item])):  # noqa: B023 (awaited at once)
                saved = True
            else:
                logger.warning(
                    "store: the embedder refuses a waiting item (%s); it is tried again later", self._last_error
                )
                await self.queue.release([item], failed=True)
        return "progress" if saved else "stuck"

    async def _call(self, call: Callable[[], Awaitable[object]]) -> bool:
        try:
            with in_background():
                saved = await call()
        except (EmbeddingUnavailableError, ValueError) as exc:
            # ValueError: the embedder's output for some text is unusable (wrong size, NaN).
            self._last_error = exc
            return False
        self.answered()
        if isinstance(saved, int) and saved:
            logger.info("store: embedded %d waiting item(s)", saved)
        return True

    def _failed(self) -> str:
        self.went_down(self._last_error or EmbeddingUnavailableError("unknown"))
        logger.info("store: the embedder is still unavailable; next attempt in %.0f s", self.delay)
        return "failed"
