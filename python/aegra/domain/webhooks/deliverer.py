"""The deliverer: sends the outbox's webhooks, retries them, and records every attempt.

A run's delivery is written in the transaction that settles the run (`enqueue`, called by
domain/runs/settle.py), so it exists exactly when the run's end does. Usually the settling
process claims its first attempt in that same write (status `sending`, leased until
`timeout + LEASE_MARGIN_SECONDS`) and sends it as soon as the transaction is durable (`send`):
no claim round trip. Everything else (retries, deliveries written while this process was busy,
those whose process died with an attempt under way, whose lease then runs out) is claimed from
the database by any process's poller: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that with
several processes each attempt is made by one of them.

At least once: a delivery is `delivered` only once a receiver answered 2xx and that was written;
a crash at any moment before leaves it outstanding, and it is sent again with the same
`webhook-id`. Retries wait `webhooks.retry_delays_seconds` (with jitter) after each failure;
answers in 4xx other than 408 and 429 are final, as is a URL the policy refuses at send time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import msgspec

from aegra.config_schema import WebhooksConfig
from aegra.db.engine import Database
from aegra.db.statements import Statements
from aegra.db.tables import webhook_deliveries
from aegra.db.tables.webhook_deliveries import Sending
from aegra.domain.webhooks.http_client import Answer, WebhookHttp
from aegra.domain.webhooks.policy import Refused, WebhookPolicy
from aegra.domain.webhooks.signing import Signer
from aegra.periodic import PeriodicSweep
from aegra.serialization import dumps

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64  # attempts under way in one process; beyond, deliveries wait in the database
LEASE_MARGIN_SECONDS = 5.0  # a lease outlasts the attempt's timeout by this much (writing its result)
MAX_REDIRECTS = 3  # only 307 and 308 are followed: they keep the POST and its body
EXCERPT_CHARS = 200  # of a receiver's answer, kept with the attempt
RETRYABLE_4XX = (408, 429)


class Deliverer:
    def __init__(self, db: Database, config: WebhooksConfig | None = None, secrets: Sequence[str] = (),
                 loopback_app: Any | None = None, *, serves_routes: bool = True) -> None:  # fmt: skip
        """`serves_routes`: this process serves the app's routes, so it can send relative webhooks
        (`/path`); an `aegra worker` does not, and leaves them to the processes that do."""
        self.db = db
        self.serves_routes = serves_routes
        self.config = config = config or WebhooksConfig()
        self.policy = WebhookPolicy.from_config(config)
        self.signer = Signer(() if config.unsigned else secrets)
        self.http = WebhookHttp(loopback_app)
        self.lease = timedelta(seconds=config.timeout_seconds + LEASE_MARGIN_SECONDS)
        retention_minutes = config.retention_hours * 60
        self.retention = PeriodicSweep(self._sweep, min(retention_minutes / 2, 10.0), "webhook deliveries")
        self._attempts: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._next_due: datetime | None = None
        self._starved = False
        # Said at the first delivery, not at startup: a project that sends no webhooks (every
        # new one) has nothing to be warned about.
        self._warn_unsigned = not self.signer.signs and not config.unsigned

    async def start(self) -> None:
        self._poller = asyncio.create_task(self._poll(), name="webhook-poller")
        self._wakeup.set()  # at once: deliveries left outstanding when the server stopped
        self.retention.start()

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Attempts under way get `grace_seconds` to finish; those cut short are sent again later
        (by this server after its restart, or another process, once their lease runs out)."""
        await self.retention.stop()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._attempts:
            _, pending = await asyncio.wait(set(self._attempts), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.http.close()

    # -- the outbox --------------------------------------------------------------------------

    async def enqueue(self, sql: Statements, run_id: uuid.UUID, url: str, payload: dict[str, Any],
                      now: datetime) -> Sending:  # fmt: skip
        """Write a run's delivery in the caller's write transaction (the run's settle). Pass what it
        returns to `send` once that transaction is durable."""
        claim = len(self._attempts) < MAX_IN_FLIGHT and (self.serves_routes or not url.startswith("/"))
        # Encoded once, here: it is stored as this JSON and sent as it (the values can be large).
        delivery = Sending(run_id, url, dumps(payload), 1 if claim else 0, [])
        status, due_at = ("sending", now + self.lease) if claim else ("pending", now)
        if not await webhook_deliveries.insert(sql, delivery, status=status, due_at=due_at, now=now):
            # Written by an earlier try of this settle, whose COMMIT went through after all: its
            # row says whether an attempt was claimed, so only the poller may send it.
            return delivery._replace(attempts=0)
        return delivery

    def send(self, delivery: Sending) -> None:
        """After the delivery's transaction: make its first attempt now if it was claimed for one,
        else tell the poller it is due."""
        if delivery.attempts:
            self._start(delivery)
        else:
            self._expect(datetime.now(UTC))

    # -- attempts ----------------------------------------------------------------------------

    def _start(self, delivery: Sending) -> None:
        task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.run_id}")
        self._attempts.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._attempts.discard(task)
        if self._starved:  # the poller found work but no room for it: there is some now
            self._starved = False
            self._wakeup.set()

    async def _attempt(self, delivery: Sending) -> None:
        started = datetime.now(UTC)
        clock = time.perf_counter()
        payload = delivery.payload if isinstance(delivery.payload, bytes) else dumps(delivery.payload)
        body = with_sent_at(payload, started)
        if self._warn_unsigned:
            self._warn_unsigned = False
            logger.warning("webhooks are sent unsigned: set webhooks.signing_secret or AEGRA_WEBHOOK_SECRET "
                           "(or webhooks.unsigned: true to say so on purpose)")  # fmt: skip
        headers = self.signer.headers(str(delivery.run_id), body, started)
        answer, error, refused = None, None, False
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                answer = await self._post(delivery.url, body, headers)
        except Refused as exc:
            error, refused = str(exc), True
        except TimeoutError:
            error = f"no answer within {self.config.timeout_seconds:g} s"
        except Exception as exc:  # the network's and the receiver's errors, whatever their type
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        history = [*delivery.history, *lost_attempts(delivery)]
        entry = {
            "attempt": delivery.attempts,
            "started_at": started.isoformat(),
            "duration_ms": round((time.perf_counter() - clock) * 1000, 1),
            "status_code": answer.status if answer else None,
            "error": error,
            "response": answer.body[:EXCERPT_CHARS].decode("utf-8", "replace") if answer and answer.body else None,
        }
        status, due_at = self._next_step(delivery.attempts, answer, refused)
        if status != "delivered":
            log = logger.warning if status == "failed" else logger.info
            log("webhook of run %s, attempt %d: %s%s", delivery.run_id, delivery.attempts,
                error or f"answered {answer.status if answer else '?'}",
                "; giving up" if status == "failed" else f"; next attempt at {due_at:%H:%M:%S}")  # fmt: skip
        try:
            async with self.db.write() as sql:
                recorded = await webhook_deliveries.record(
                    sql, delivery.run_id, delivery.attempts, status=status, due_at=due_at,
                    history=[*history, entry], now=datetime.now(UTC),
                )  # fmt: skip
        except Exception:
            # Its lease runs out and the delivery is claimed again: sent twice rather than never.
            logger.exception("webhook of run %s: recording attempt %d failed", delivery.run_id, delivery.attempts)
            return
        if not recorded:
            logger.warning("webhook of run %s: attempt %d outlived its lease; another attempt was claimed meanwhile",
                           delivery.run_id, delivery.attempts)  # fmt: skip
        elif due_at is not None:
            self._expect(due_at)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = await self.policy.target(url)
            except Refused as refused:
                raise Refused(f"{refused} (redirected to {url})" if hop else str(refused)) from None
            if target is None:
                return await self.http.post_in_process(url, body, headers)
            answer = await self.http.post(target, body, headers)
            if answer.status not in (307, 308) or not answer.location or hop == MAX_REDIRECTS:
                return answer
            url = urljoin(url, answer.location)
        raise AssertionError("unreachable")

    def _next_step(self, attempt: int, answer: Answer | None, refused: bool) -> tuple[str, datetime | None]:
        """The delivery's status after this attempt, and when the next one is due."""
        code = answer.status if answer else None
        if code is not None and 200 <= code < 300:
            return "delivered", None
        delays = self.config.retry_delays_seconds
        final = refused or (code is not None and 400 <= code < 500 and code not in RETRYABLE_4XX)
        if final or attempt > len(delays):
            return "failed", None
        jitter = self.config.retry_jitter
        delay = delays[attempt - 1] * random.uniform(1 - jitter, 1 + jitter)
        return "pending", datetime.now(UTC) + timedelta(seconds=delay)

    # -- the poller: deliveries this process was not handed ----------------------------------

    def _expect(self, due_at: datetime) -> None:
        if self._next_due is None or due_at < self._next_due:
            self._next_due = due_at
        self._wakeup.set()

    async def _poll(self) -> None:
        while True:
            wait = self.config.poll_seconds
            if self._next_due is not None:
                wait = min(wait, max((self._next_due - datetime.now(UTC)).total_seconds(), 0.0))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._claim_due()
            except Exception:
                logger.exception("claiming due webhook deliveries failed")
            self.http.close_idle()

    async def _claim_due(self) -> None:
        room = MAX_IN_FLIGHT - len(self._attempts)
        if room <= 0:
            self._starved, self._next_due = True, None  # woken when an attempt ends
            return
        now = datetime.now(UTC)
        # A read first: on SQLite a claim is a write transaction, and most looks find nothing.
        async with self.db.read() as sql:
            due = await webhook_deliveries.next_due(sql)
        self._next_due = due if due is not None and due > now else None
        if due is None or due > now:
            return
        async with self.db.write() as sql:
            claimed = await webhook_deliveries.claim_due(
                sql, now=now, lease_until=now + self.lease, limit=room, relative=self.serves_routes
            )
        for delivery in claimed:
            self._start(delivery)
        if len(claimed) == room:
            self._wakeup.set()  # there may be more

    async def _sweep(self) -> int:
        cutoff = datetime.now(UTC) - timedelta(hours=self.config.retention_hours)
        async with self.db.write() as sql:
            return await webhook_deliveries.delete_finished_before(sql, cutoff)


def lost_attempts(delivery: Sending) -> list[dict[str, Any]]:
    """Attempts before this one that left no result: their process stopped while they were under
    way (their lease ran out, and this attempt was claimed)."""
    recorded = {entry["attempt"] for entry in delivery.history}
    return [
        {"attempt": number, "started_at": None, "duration_ms": None, "status_code": None, "response": None,
         "error": "no result: the process making this attempt stopped before it ended"}
        for number in range(1, delivery.attempts)
        if number not in recorded
    ]  # fmt: skip


def with_sent_at(payload: bytes, sent_at: datetime) -> bytes:
    """The body of one attempt: the stored payload (a JSON object) with `webhook_sent_at` added,
    without decoding and encoding the payload again (the run's values can be large)."""
    return b'%s,"webhook_sent_at":%s}' % (payload.rstrip()[:-1], msgspec.json.encode(sent_at))
