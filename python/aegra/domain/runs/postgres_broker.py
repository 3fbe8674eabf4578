"""Runs' stream events through PostgreSQL, for readers in every process sharing the database.

The process that executes a run publishes its events to an in-process channel (its own readers
follow that, from memory, as on SQLite) and appends them to `run_events`: in batches, one INSERT
and one NOTIFY `aegra_events` for the events of all runs published within `FLUSH_DELAY_SECONDS`,
written by one flusher in order, so a run's events are committed in `seq` order. A reader in
another process reads the table after its last `seq` (a `Last-Event-ID` is one), waits for a
notification naming the run, and reads again, until the run's `END_OF_STREAM` event; it also
looks every `REMOTE_POLL_SECONDS` in case a notification was lost, and then checks whether the
run has ended without one (its process died before it could write the end).

Events are deleted `REPLAY_TTL_SECONDS` after their run's stream ended, as langgraph-api keeps
resumable streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aegra.db import notifications
from aegra.db.engine import Database
from aegra.db.tables import run_events, runs
from aegra.db.tables.runs import TERMINAL
from aegra.domain.runs.broker import REPLAY_TTL_SECONDS, InProcessBroker, StreamEvent
from aegra.periodic import PeriodicSweep

logger = logging.getLogger(__name__)

# How long published events wait to be written together; the floor of a remote reader's latency.
FLUSH_DELAY_SECONDS = 0.002
# A remote reader looks at the table at least this often without a notification.
REMOTE_POLL_SECONDS = 1.0
# Events a remote reader fetches per query.
READ_BATCH = 500
# Events waiting to be written, past which the oldest are dropped (the database is unreachable).
MAX_UNWRITTEN = 200_000
RETRY_SECONDS = 0.5


class PostgresBroker:
    def __init__(self, db: Database, listener: notifications.Listener) -> None:
        self.db = db
        self._local = InProcessBroker()
        self._next_seq: dict[uuid.UUID, int] = {}  # runs executing here: the next event's seq
        self._first_seq: dict[uuid.UUID, int] = {}  # and the first seq of this process's part
        self._unwritten: list[tuple[uuid.UUID, int, str, bytes]] = []
        self._flushing = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._readers: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._sweep = PeriodicSweep(self.delete_expired, REPLAY_TTL_SECONDS / 60, "run events")
        listener.on(notifications.EVENTS, self._on_events)

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="run-events-flusher")
        self._sweep.start()

    async def stop(self) -> None:
        await self._sweep.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._unwritten:
            with contextlib.suppress(Exception):
                await self._write(self._unwritten)

    # -- publishing (the process that executes the run) -----------------------------------

    def open(self, run_id: uuid.UUID, *, first: int = 1) -> None:
        self._next_seq[run_id] = self._first_seq[run_id] = first
        self._local.open(run_id, first_id=first)
        for woken in self._readers.get(run_id, ()):
            woken.set()  # readers of the run while it was queued follow it from memory now

    async def resume(self, run_id: uuid.UUID) -> None:
        async with self.db.read() as sql:  # an earlier attempt (another process, maybe) wrote the first events
            self.open(run_id, first=await run_events.last_seq(sql, run_id) + 1)

    async def publish(self, run_id: uuid.UUID, event: str, data: bytes) -> None:
        seq = self._next_seq[run_id]
        self._next_seq[run_id] = seq + 1
        await self._local.publish(run_id, event, data)
        self._append((run_id, seq, event, data))

    async def close(self, run_id: uuid.UUID, *, ended: bool = True) -> None:
        seq = self._next_seq.pop(run_id, None)
        self._first_seq.pop(run_id, None)
        if ended:
            if seq is None:  # a run that never ran here (cancelled while pending)
                async with self.db.read() as sql:
                    seq = await run_events.last_seq(sql, run_id) + 1
            self._append((run_id, seq, run_events.END_OF_STREAM, b""))
        await self._local.close(run_id, ended=ended)

    def _append(self, event: tuple[uuid.UUID, int, str, bytes]) -> None:
        self._unwritten.append(event)
        if len(self._unwritten) > MAX_UNWRITTEN:
            del self._unwritten[: len(self._unwritten) - MAX_UNWRITTEN]
            logger.error("run events could not be written for a while; the oldest were dropped")
        self._flushing.set()

    async def _flush_forever(self) -> None:
        while True:
            await self._flushing.wait()
            await asyncio.sleep(FLUSH_DELAY_SECONDS)  # let the events of this moment join
            self._flushing.clear()
            batch, self._unwritten = self._unwritten, []
            try:
                await self._write(batch)
            except Exception as exc:
                logger.error("writing %d run events failed (retrying): %s", len(batch), exc)
                self._unwritten[:0] = batch
                self._flushing.set()
                await asyncio.sleep(RETRY_SECONDS)

    async def _write(self, batch: list[tuple[uuid.UUID, int, str, bytes]]) -> None:
        payloads = _payloads(list(dict.fromkeys(str(event[0]) for event in batch)))
        async with self.db.single_statements() as sql:
            await run_events.append(sql, batch, datetime.now(UTC), channel=notifications.EVENTS, payloads=payloads)

    # -- reading (any process) -----------------------------------------------------------

    async def has_stream(self, run_id: uuid.UUID) -> bool:
        if self._local.holds(run_id):
            return True
        async with self.db.read() as sql:
            return await run_events.any_for(sql, run_id)

    async def subscribe(self, run_id: uuid.UUID, after: int | None = None, *,
                        live_only: bool = False) -> AsyncIterator[StreamEvent]:  # fmt: skip
        """As `Broker.subscribe`; `live_only` is from now on for a run executing in this process, and
        from the start of the stored stream for one executing in another. A reader of a run that
        is queued when it subscribes reads the table until the run starts here, if it does: then
        memory (a run's readers in its own process never wait on the table's notifications)."""
        while True:
            if self._executing_here(run_id, None if live_only else after or 0):
                async for event in self._local.subscribe(run_id, after, live_only=live_only):
                    after = event.id
                    yield event
                if self._local.holds(run_id):
                    return  # the stream ended here
                # This process let the run go without ending it (shutdown, lost database): the rest
                # comes from whichever process goes on with it.
            live_only = False  # from here on, the stored stream after what was read
            async for event in self._read_table(run_id, after or 0):
                after = event.id
                yield event
            if not self._executing_here(run_id, after):
                return  # the stored stream ended

    def _executing_here(self, run_id: uuid.UUID, after: int | None) -> bool:
        """The run executes in this process, and its memory holds every event after `after`
        (None: the reader wants only what comes from now on)."""
        first = self._first_seq.get(run_id)
        return first is not None and (after is None or after >= first - 1)

    async def _read_table(self, run_id: uuid.UUID, seq: int) -> AsyncIterator[StreamEvent]:
        """The stored events after `seq` until the stream's end, or until the run starts executing
        in this process (`open` wakes the readers)."""
        woken = asyncio.Event()
        self._readers.setdefault(run_id, set()).add(woken)
        try:
            while True:
                woken.clear()
                if self._executing_here(run_id, seq):
                    return
                async with self.db.read() as sql:
                    rows = await run_events.after(sql, run_id, seq, READ_BATCH)
                for row in rows:
                    if row.event == run_events.END_OF_STREAM:
                        return
                    yield StreamEvent(row.seq, row.event, bytes(row.data))
                    seq = row.seq
                if len(rows) == READ_BATCH:
                    continue
                try:
                    async with asyncio.timeout(REMOTE_POLL_SECONDS):
                        await woken.wait()
                except TimeoutError:
                    if await self._ended_without_end(run_id):
                        return
        finally:
            readers = self._readers.get(run_id)
            if readers is not None:
                readers.discard(woken)
                if not readers:
                    del self._readers[run_id]

    async def _ended_without_end(self, run_id: uuid.UUID) -> bool:
        """The run is over, but its stream has no end (its process died before writing it)."""
        async with self.db.read() as sql:
            run = await runs.get(sql, run_id)
            if run is not None and run.status not in TERMINAL:
                return False
            latest = await run_events.after(sql, run_id, await run_events.last_seq(sql, run_id) - 1, 1)
        return not latest or latest[0].event != run_events.END_OF_STREAM

    def _on_events(self, payload: str) -> None:
        if not payload:  # the connection came back: anything may have been missed
            woken = [event for readers in self._readers.values() for event in readers]
        else:
            runs_named = [run_id for text in payload.split(",") if (run_id := _uuid(text)) is not None]
            woken = [event for run_id in runs_named for event in self._readers.get(run_id, ())]
        for event in woken:
            event.set()

    async def delete_expired(self) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=REPLAY_TTL_SECONDS)
        async with self.db.exclusive("aegra: run events retention") as mine:
            if not mine:
                return 0
            async with self.db.write() as sql:
                return await run_events.delete_ended_before(sql, cutoff)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _payloads(run_ids: list[str]) -> list[str]:
    """Comma-joined run ids, in payloads under PostgreSQL's limit."""
    payloads, current = [], ""
    for run_id in run_ids:
        if current and len(current) + 1 + len(run_id) > notifications.MAX_PAYLOAD:
            payloads.append(current)
            current = ""
        current = f"{current},{run_id}" if current else run_id
    return [*payloads, current] if current else payloads
