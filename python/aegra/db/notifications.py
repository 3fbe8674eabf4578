"""PostgreSQL LISTEN/NOTIFY: how the processes sharing one database wake each other.

Channels (payloads are short text):

- `aegra_runs`: a run may be claimable (one was stored, a thread's queue moved);
- `aegra_cancel`: `<run_id>` has a cancel request for the process that executes it;
- `aegra_events`: `<run_id>[,<run_id>...]` have new stream events in `run_events`.

An empty payload, sent to every callback when the connection comes back, means "something may
have been missed: look".

A notification is a hint, never the truth: everything it points at is in the tables, and every
listener also looks on a timer, so a notification lost while a connection was down delays work
but loses none. `Listener` holds one connection of its own (LISTEN needs a session) and
reconnects when it drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import Text, bindparam, func, select

from aegra.db.statements import Prepared, Statements

logger = logging.getLogger(__name__)

RUNS = "aegra_runs"
CANCEL = "aegra_cancel"
EVENTS = "aegra_events"
# PostgreSQL refuses payloads of 8000 bytes and more.
MAX_PAYLOAD = 7900

NOTIFY = Prepared(select(func.pg_notify(bindparam("channel", type_=Text), bindparam("payload", type_=Text))))


async def notify(sql: Statements, channel: str, payload: str = "") -> None:
    """Send a notification; inside a write transaction it goes out when (and if) that commits."""
    await sql.execute(NOTIFY, {"channel": channel, "payload": payload})


class Listener:
    """One LISTENing connection, its callbacks, and reconnection with backoff."""

    RETRY_SECONDS = (0.5, 1, 2, 5)
    # A connection lost sooner than this after it was made counts as a failure to connect: a
    # server or pooler that drops each connection at once (a pooler in transaction mode cannot
    # keep a LISTEN) gets the backoff, not a reconnection every few milliseconds.
    STABLE_SECONDS = 10.0

    def __init__(self, url: str) -> None:
        self._url = url
        self._callbacks: dict[str, list[Callable[[str], None]]] = {}
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()

    def on(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` for each notification on `channel` (register before `start`)."""
        self._callbacks.setdefault(channel, []).append(callback)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_listening(), name="pg-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.connected.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _keep_listening(self) -> None:
        failures = 0  # in a row: connections that failed, or were lost soon after they were made
        while True:
            try:
                await self._listen()
                since = time.monotonic()
                await self._lost.wait()
                failures = 0 if time.monotonic() - since >= self.STABLE_SECONDS else failures + 1
                problem = "the LISTEN connection to PostgreSQL was lost"
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                failures += 1
                problem = f"cannot LISTEN on PostgreSQL ({exc})"
            finally:
                self.connected.clear()
            delay = self.RETRY_SECONDS[min(failures, len(self.RETRY_SECONDS)) - 1] if failures else 0.0
            logger.warning("%s; reconnecting in %gs", problem, delay)
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self._url)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        for channel in self._callbacks:
            await conn.add_listener(channel, self._dispatch)
        self._conn = conn
        self.connected.set()
        # Whatever was notified while no one listened: the listeners' own timers find it; an
        # empty payload ("something may have been missed") makes them look at once.
        for callbacks in self._callbacks.values():
            for callback in callbacks:
                callback("")

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for callback in self._callbacks.get(channel, ()):
            try:
                callback(payload)
            except Exception:
                logger.exception("handling a notification on %s", channel)
