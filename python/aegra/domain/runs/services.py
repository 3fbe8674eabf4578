"""The rules of runs: creation (validation, threads, multitask strategies), reading, cancelling,
and following a run's stream or result. Execution, cancellation and claiming are the executor's
(executor.py): this service stores a run and hands it over.

Runs belong to their thread: the caller's `threads` handler authorizes them (`create_run`, then
`read`, `update` for cancel, `delete`), and its filter is matched against the thread's metadata
in SQL, so another user's run is not found. Creating a run also needs `read` on a non-system
assistant, as in langgraph-api.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import msgspec

from aegra.auth import Filter, RequestAuth
from aegra.db import notifications
from aegra.db.engine import Database
from aegra.db.statements import Statements
from aegra.db.tables import run_lifecycle, runs, threads, webhook_deliveries
from aegra.db.tables.runs import TERMINAL
from aegra.domain.assistants.services import AssistantService
from aegra.domain.pagination import Page
from aegra.domain.runs import schemas
from aegra.domain.runs.broker import Broker, StreamEvent
from aegra.domain.runs.executor import Executor
from aegra.domain.runs.options import build_kwargs, validate_options
from aegra.domain.runs.results import RunResult, thread_fallback
from aegra.domain.schemas import check_limit, from_row, parse_uuid
from aegra.domain.webhooks.policy import WebhookPolicy
from aegra.domain.webhooks.schemas import WebhookDelivery
from aegra.errors import BadRequest, Conflict, Invalid, NotFound
from aegra.ids import new_id
from aegra.serialization import dumps
from aegra.telemetry import logs, metrics, tracing

# How often an idle thread stream looks for a new run on its thread.
THREAD_POLL_SECONDS = 0.25


class NewThread(NamedTuple):
    """A thread that a run creates, as much of a thread row as the run's kwargs are built from."""

    thread_id: uuid.UUID
    metadata: dict[str, Any]
    config: dict[str, Any]
    interrupts: dict[str, Any]
    inflight: bool = False


class RunService:
    def __init__(self, db: Database, assistants: AssistantService, broker: Broker, executor: Executor,
                 *, max_search_limit: int = 1000, webhooks: WebhookPolicy | None = None) -> None:  # fmt: skip
        self.db = db
        self.webhooks = webhooks  # None: disabled
        self.assistants = assistants
        self.broker = broker
        self.executor = executor
        self.max_search_limit = max_search_limit

    # -- creation -------------------------------------------------------------------------

    async def _authorize_create(self, thread_uuid: uuid.UUID, run_id: uuid.UUID, body: schemas.RunCreate,
                                auth: RequestAuth) -> tuple[schemas.RunCreate, Filter | None]:  # fmt: skip
        """The `create_run` handler's verdict; the body carries the metadata it may have changed."""
        value: dict[str, Any] = {
            "thread_id": thread_uuid, "assistant_id": body.assistant_id, "run_id": run_id, "status": "pending",
            "metadata": dict(body.metadata or {}), "prevent_insert_if_inflight": body.multitask_strategy == "reject",
            "multitask_strategy": body.multitask_strategy, "if_not_exists": body.if_not_exists,
            "after_seconds": body.after_seconds, "kwargs": {"input": body.input, "config": body.config},
        }  # fmt: skip
        allowed = await auth.authorize("threads", "create_run", value)
        return msgspec.structs.replace(body, metadata=value["metadata"]), allowed

    async def create(self, thread_id: str | None, body: schemas.RunCreate, *, auth: RequestAuth) -> schemas.Run:
        """Persist a pending run (creating its thread when allowed) and hand it to the executor."""
        stateless = thread_id is None
        validate_options(body, stateless=stateless, webhooks=self.webhooks)
        if body.webhook is not None and self.webhooks is not None:
            await self.webhooks.check_resolved(body.webhook)  # a name that resolves to a refused address: 422
        assistant_id = await self.assistants.run_access(body.assistant_id, auth=auth)
        thread_uuid = new_id() if thread_id is None else parse_uuid(thread_id, "thread ID")
        run_id = new_id()
        body, allowed = await self._authorize_create(thread_uuid, run_id, body, auth)
        # Stateless runs report one too (langgraph-sdk types it as a string): their new thread has
        # nothing to multitask with, so it changes nothing.
        strategy = body.multitask_strategy or "enqueue"
        to_cancel: list[uuid.UUID] = []
        now = datetime.now(UTC)
        start_now = False
        try:
            async with self.db.write() as sql:
                sources = await run_lifecycle.sources(sql, assistant_id, thread_uuid, allowed)
                assistant = self.assistants.for_run(sources.assistant, assistant_id)
                thread = sources.thread
                if thread is None:
                    hidden = allowed and await threads.present(sql, thread_uuid)
                    if hidden or (not stateless and (body.if_not_exists or "reject") == "reject"):
                        raise NotFound(f"Thread {thread_uuid} not found.")
                    # A new thread carries the run's metadata, as in langgraph-api (e.g. its owner).
                    metadata = {**((body.config or {}).get("metadata") or {}), **(body.metadata or {})}
                    thread = NewThread(thread_id=thread_uuid, metadata=metadata, config={}, interrupts={})
                elif body.command is not None and body.command.resume is not None and not thread.interrupts:
                    raise BadRequest(f"Cannot resume thread {thread_uuid}: it has no pending interrupt")
                inflight = bool(thread.inflight)
                if inflight and strategy == "reject":
                    raise Conflict(
                        "Thread is already running a task. Wait for it to finish or choose a different "
                        "multitask strategy."
                    )
                if inflight and strategy in ("interrupt", "rollback"):
                    to_cancel = await runs.in_flight_ids(sql, thread_uuid)
                kwargs, metadata = build_kwargs(
                    body, assistant, thread, run_id, stateless=stateless, user=auth.configurable()
                )
                thread_metadata = {
                    **thread.metadata,
                    "graph_id": assistant.graph_id,
                    "assistant_id": str(assistant.assistant_id),
                }
                new_thread = isinstance(thread, NewThread)
                if new_thread:
                    values = {"thread_id": thread_uuid, "metadata": thread_metadata, "config": {}, "status": "busy"}
                    await threads.insert(sql, {**values, "created_at": now, "updated_at": now})
                # Start at once when nothing is ahead of it on the thread and a slot is free; else
                # it waits as `pending` for the executor to claim it.
                lease = None if inflight or body.after_seconds else self.executor.reserve_slot()
                start_now = lease is not None
                run = schemas.Run(
                    run_id=run_id,
                    thread_id=thread_uuid,
                    assistant_id=assistant.assistant_id,
                    created_at=now + timedelta(seconds=body.after_seconds or 0),
                    updated_at=now,
                    status="running" if start_now else "pending",
                    metadata=metadata,
                    kwargs=kwargs,
                    multitask_strategy=strategy,
                )
                traceparent = tracing.traceparent()
                # An existing thread is marked busy by the run's INSERT, and a pending run's NOTIFY
                # goes with it (one statement on PostgreSQL).
                notified = await run_lifecycle.create(sql, {
                    **msgspec.structs.asdict(run), "started_at": now if start_now else None,
                    "attempt": 1 if start_now else 0, "traceparent": traceparent, **(lease.columns() if lease else {}),
                }, busy_metadata=None if new_thread else thread_metadata, now=now,
                   wake_channel=None if start_now else notifications.RUNS)  # fmt: skip
        except BaseException:
            if start_now:
                self.executor.release_slot()
            raise
        metrics.run_created(assistant.graph_id)
        logs.add(run_id=str(run_id), thread_id=str(thread_uuid), assistant_id=str(assistant.assistant_id),
                 graph_id=assistant.graph_id)  # fmt: skip
        for other in to_cancel:
            await self.executor.cancel(thread_uuid, other, strategy or "interrupt")
        self.executor.submit(run_id, thread_uuid, kwargs, started=start_now, traceparent=traceparent,
                             notified=notified)  # fmt: skip
        return run

    # -- reading --------------------------------------------------------------------------

    async def get(self, thread_id: str | None, run_id: str, *, auth: RequestAuth) -> schemas.Run:
        """`thread_id` None: a run by id alone (the stateless `/runs/{run_id}/...` routes)."""
        allowed = await self._authorize(thread_id, run_id, auth, "read")
        async with self.db.read() as sql:
            return from_row(schemas.Run, await self._get_row(sql, thread_id, run_id, allowed))

    async def _authorize(
        self, thread_id: str | None, run_id: str | None, auth: RequestAuth, action: str
    ) -> Filter | None:
        value: dict[str, Any] = {
            "thread_id": parse_uuid(thread_id, "thread ID") if thread_id else None,
            "run_id": parse_uuid(run_id, "run ID") if run_id else None,
        }
        return await auth.authorize("threads", action, value)

    async def _get_row(self, sql: Statements, thread_id: str | None, run_id: str, allowed: Filter | None) -> Any:
        """The run's row, if it exists (on `thread_id`, when one is given) and `allowed` lets the
        caller see its thread; else 404."""
        run_uuid = parse_uuid(run_id, "run ID")
        row = await runs.get(sql, run_uuid, allowed)
        if row is None or (thread_id is not None and row.thread_id != parse_uuid(thread_id, "thread ID")):
            raise NotFound(f"Run {run_uuid} not found")
        return row

    async def webhook_deliveries(self, thread_id: str | None, run_id: str, *,
                                 auth: RequestAuth) -> list[WebhookDelivery]:  # fmt: skip
        """The run's webhook deliveries and their attempts, for whoever may read the run."""
        allowed = await self._authorize(thread_id, run_id, auth, "read")
        async with self.db.read() as sql:
            row = await self._get_row(sql, thread_id, run_id, allowed)
            deliveries = await webhook_deliveries.of_run(sql, row.run_id)
        return [WebhookDelivery.from_row(delivery) for delivery in deliveries]

    async def list(self, thread_id: str, *, auth: RequestAuth, limit: int, offset: int,
                   status: str | None) -> Page[schemas.Run]:  # fmt: skip
        check_limit(limit, self.max_search_limit)
        thread_uuid = await self.existing_thread(thread_id, auth=auth)
        async with self.db.read() as sql:
            rows = await runs.of_thread(sql, thread_uuid, status=status, limit=limit, offset=offset)
        page = Page.from_rows(rows, limit=limit, offset=offset)
        return Page([from_row(schemas.Run, r) for r in page.items], page.offset, page.next_offset)

    async def delete(self, thread_id: str, run_id: str, *, auth: RequestAuth) -> None:
        allowed = await self._authorize(thread_id, run_id, auth, "delete")
        async with self.db.write() as sql:
            row = await self._get_row(sql, thread_id, run_id, allowed)
            if row.status in ("pending", "running"):
                raise Conflict(f"Run {row.run_id} is {row.status}; cancel it before deleting it")
            await runs.delete_one(sql, row.run_id)

    # -- cancelling -----------------------------------------------------------------------

    async def cancel(self, thread_id: str | None, run_id: str, action: str, *, auth: RequestAuth) -> schemas.Run:
        allowed = await self._authorize(thread_id, run_id, auth, "update")
        async with self.db.read() as sql:
            row = await self._get_row(sql, thread_id, run_id, allowed)
        if row.status in TERMINAL:
            # As langgraph-api: only a run in flight can be found to cancel.
            raise NotFound(f"Run {row.run_id} has already ended ({row.status}): there is nothing to cancel")
        await self.executor.cancel(row.thread_id, row.run_id, action)
        return from_row(schemas.Run, row)

    async def cancel_many(self, body: schemas.BulkCancel, action: str, *, auth: RequestAuth) -> None:
        """Either every run with a status, or the given runs of one thread."""
        by_status = body.status is not None
        by_ids = body.thread_id is not None or body.run_ids is not None
        if by_status == by_ids:
            raise Invalid("Give either `status`, or `thread_id` with `run_ids`, but not both")
        thread_uuid, run_ids = None, None
        if by_ids:
            if body.thread_id is None or not body.run_ids:
                raise Invalid("`thread_id` and `run_ids` go together")
            thread_uuid = parse_uuid(body.thread_id, "thread ID")
            run_ids = [parse_uuid(r, "run ID") for r in body.run_ids]
        allowed = await self._authorize(body.thread_id, None, auth, "update")
        async with self.db.read() as sql:
            targets = await runs.in_flight_targets(
                sql, status=body.status, thread_id=thread_uuid, run_ids=run_ids, allowed_by=allowed
            )
        for target_thread, target_run in targets:
            await self.executor.cancel(target_thread, target_run, action)

    # -- following a run ------------------------------------------------------------------

    async def events(self, thread_id: str | None, run_id: str, *, auth: RequestAuth, after: int | None = None,
                     just_created: bool = False, live_only: bool = False,
                     seen: schemas.Run | None = None) -> AsyncIterator[StreamEvent]:  # fmt: skip
        """The run's events from the start (or after `after`), live until it ends; `live_only`:
        those from now on (a join without `Last-Event-ID`, as langgraph-api: nothing once it ended).

        `just_created`: the caller made this run a moment ago (and was allowed to), so its stream
        is open here and the database need not be asked. `seen`: the run as the caller read it a
        moment ago with `get` (which authorized it): it is not read again.
        """
        if just_created:
            run_uuid = uuid.UUID(run_id)
        else:
            row: Any = seen
            if row is None:
                allowed = await self._authorize(thread_id, run_id, auth, "read")
                async with self.db.read() as sql:
                    row = await self._get_row(sql, thread_id, run_id, allowed)
            if row.status in TERMINAL and (live_only or not await self.broker.has_stream(row.run_id)):
                return
            run_uuid = row.run_id
        with metrics.stream_open():
            async for event in self.broker.subscribe(run_uuid, after, live_only=live_only):
                yield event

    async def existing_thread(self, thread_id: str, *, auth: RequestAuth) -> uuid.UUID:
        """The thread's id, when it exists and the caller may read it."""
        thread_uuid = parse_uuid(thread_id, "thread ID")
        allowed = await auth.authorize("threads", "read", {"thread_id": thread_uuid})
        async with self.db.read() as sql:
            if await threads.get(sql, thread_uuid, allowed) is None:
                raise NotFound(f"Thread {thread_uuid} not found")
        return thread_uuid

    async def thread_events(self, thread_uuid: uuid.UUID) -> AsyncIterator[StreamEvent]:
        """Events of the thread's runs, one run after the other, each ended by `metadata {"status":
        "run_done", "run_id"}`; open until the client leaves, as langgraph-api's thread stream (a
        run that starts later is followed too: the thread is looked at every THREAD_POLL_SECONDS)."""
        with metrics.stream_open():
            async for event in self._thread_events(thread_uuid):
                yield event

    async def _thread_events(self, thread_uuid: uuid.UUID) -> AsyncIterator[StreamEvent]:
        followed: deque[uuid.UUID] = deque(maxlen=1000)  # runs seen (they end in creation order)
        async with self.db.read() as sql:
            created_after = await runs.newest_created_at(sql, thread_uuid)  # older runs: only if in flight
        while True:
            async with self.db.read() as sql:
                candidates = await runs.to_follow_on_thread(sql, thread_uuid, created_after)
            upcoming = [run for run in candidates if run.run_id not in followed]
            if not upcoming:
                await asyncio.sleep(THREAD_POLL_SECONDS)
                continue
            run = upcoming[0]
            followed.append(run.run_id)
            if created_after is None or run.created_at > created_after:
                created_after = run.created_at
            # A run that ended before this look is replayed while the broker keeps its events.
            if run.status not in TERMINAL or await self.broker.has_stream(run.run_id):
                async for event in self.broker.subscribe(run.run_id):
                    yield event
            yield StreamEvent(0, "metadata", dumps({"status": "run_done", "run_id": str(run.run_id)}))

    async def result(self, thread_id: str | None, run_id: str, *, auth: RequestAuth, just_created: bool = False,
                     seen: schemas.Run | None = None) -> Any:  # fmt: skip
        """What `wait` and `join` answer once the run has ended (`just_created`, `seen`: as `events`)."""
        result = RunResult()
        async for event in self.events(thread_id, run_id, auth=auth, just_created=just_created, seen=seen):
            result.absorb(event.event, event.data)
        if result.seen_any:
            return result.body()
        async with self.db.read() as sql:
            # Authorized already, by `events` or by the creation of the run.
            row = await self._get_row(sql, thread_id, run_id, None)
            thread = await threads.get(sql, row.thread_id)
        if thread is None:
            return {}
        return thread_fallback(thread.status, thread.values, thread.interrupts, row.error)
