"""The rules of crons: create (stateless or on a thread), get, patch, delete, search, count.

Behaviour follows langgraph-api's crons routes: a stateless cron makes a new thread at
each firing and, with `on_run_completed="delete"` (the default), deletes it once the run ends;
a thread-bound cron runs on its thread with the cron's `multitask_strategy`. The run fields are
checked at creation with the very rules a run request obeys, so a firing does not fail on
them later. Crons are an auth resource: the `crons` handler may refuse, change the value (e.g.
stamp `metadata.owner`) or return a filter that the SQL applies (no match: 404), and a cron
keeps its creator's identity (`user_id`), as whom its runs are created (scheduler.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from aegra.auth import SYSTEM, RequestAuth
from aegra.db.engine import Database
from aegra.db.statements import ConstraintViolation
from aegra.db.tables import crons
from aegra.domain.assistants.services import AssistantService
from aegra.domain.crons import schemas
from aegra.domain.crons.schedule import as_utc, check_schedule, check_timezone, next_run_date
from aegra.domain.pagination import Page
from aegra.domain.runs.options import validate_options
from aegra.domain.runs.schemas import RunCreate
from aegra.domain.runs.services import RunService
from aegra.domain.schemas import JSONObject, check_limit, from_row, parse_uuid, selected
from aegra.errors import BadRequest, Invalid, NotFound
from aegra.ids import new_id


def run_request(row: Any) -> RunCreate:
    """The run a firing of this cron creates: the run fields of its payload, with the cron's metadata."""
    fields = {k: v for k, v in row.payload.items() if k in RUN_FIELDS}
    fields["metadata"] = dict(row.metadata)
    if fields.get("context") and fields.get("config"):
        # The cron's id rides in its runs' configurable, as in langgraph-api, unless the cron gives
        # `context`: a run may not have both (check_config_and_context).
        configurable = {k: v for k, v in (fields["config"].get("configurable") or {}).items() if k != "cron_id"}
        fields["config"] = {**fields["config"], "configurable": configurable}
    if row.thread_id is None:
        # Each firing has a thread of its own: there is nothing to multitask with.
        fields.pop("multitask_strategy", None)
        fields["on_completion"] = row.on_run_completed or "delete"
    try:
        return msgspec.convert(fields, RunCreate)
    except msgspec.ValidationError as exc:
        raise Invalid(f"Invalid cron payload: {exc}") from None


# The payload keeps the request as it was given (as langgraph-api does); these are its run's fields.
RUN_FIELDS = frozenset({"assistant_id", *schemas.CronRunFields.__struct_fields__})


def request_payload(body: schemas.CronCreate | schemas.CronPatch) -> dict[str, Any]:
    """The fields a request gave, JSON-ready (`end_time: null` included: it clears the end time)."""
    return msgspec.to_builtins(body)


def _with_cron_id(payload: dict[str, Any], cron_id: uuid.UUID) -> dict[str, Any]:
    config = payload.get("config") or {}
    configurable = {**(config.get("configurable") or {}), "cron_id": str(cron_id)}
    return {**payload, "config": {**config, "configurable": configurable}}


def _not_found(cron_id: uuid.UUID) -> NotFound:
    return NotFound(f"Cron {cron_id} not found")


class CronService:
    def __init__(self, db: Database, assistants: AssistantService, runs: RunService, *,
                 max_search_limit: int = 1000) -> None:  # fmt: skip
        self.db = db
        self.assistants = assistants
        self.runs = runs
        self.max_search_limit = max_search_limit

    def _check_run(self, row: Any) -> None:
        validate_options(run_request(row), stateless=row.thread_id is None, webhooks=self.runs.webhooks)

    # -- CRUD -----------------------------------------------------------------------------

    async def create(self, thread_id: str | None, body: schemas.CronCreate, *, auth: RequestAuth) -> schemas.Cron:
        """`thread_id` None: a stateless cron (`POST /runs/crons`)."""
        if thread_id is not None and body.on_run_completed is not None:
            raise Invalid("`on_run_completed` applies only to stateless crons (/runs/crons)")
        thread_uuid = parse_uuid(thread_id, "thread ID") if thread_id is not None else None
        check_schedule(body.schedule)
        check_timezone(body.timezone)
        # As for runs: the assistant must exist, and be readable by the caller unless it is a graph's own.
        assistant = await self.assistants.get(body.assistant_id, auth=SYSTEM)
        if assistant.metadata.get("created_by") != "system":
            await self.assistants.get(str(assistant.assistant_id), auth=auth)
        now = datetime.now(UTC)
        cron_id = new_id()
        row = crons.Row(
            cron_id=cron_id,
            assistant_id=assistant.assistant_id,
            thread_id=thread_uuid,
            schedule=body.schedule,
            timezone=body.timezone,
            end_time=as_utc(body.end_time),
            payload=_with_cron_id({**request_payload(body), "assistant_id": str(assistant.assistant_id)}, cron_id),
            metadata=dict(body.metadata or {}),
            enabled=body.enabled,
            on_run_completed=None if thread_uuid else body.on_run_completed or "delete",
            next_run_date=next_run_date(body.schedule, now, body.timezone),
            # Without auth there is no one to remember (langgraph-api's empty identity): its runs see
            # the anonymous user, as API runs do.
            user_id=auth.user.identity if auth.auth is not None else "",
            created_at=now,
            updated_at=now,
        )
        self._check_run(row)
        if thread_id is not None:
            await self.runs.existing_thread(thread_id, auth=auth)  # 404 unless the caller may read it
        value: dict[str, Any] = {
            "payload": row.payload, "schedule": row.schedule, "cron_id": row.cron_id, "thread_id": thread_uuid,
            "user_id": row.user_id, "end_time": row.end_time, "metadata": row.metadata,
        }  # fmt: skip
        await auth.authorize("crons", "create", value)
        row = row._replace(metadata=dict(value["metadata"] or {}))
        try:
            async with self.db.write() as sql:
                await crons.insert(sql, row._asdict())
        except ConstraintViolation:
            # The thread or the assistant was deleted a moment ago (foreign keys).
            raise NotFound("Thread or assistant not found.") from None
        return from_row(schemas.Cron, row)

    async def get(self, cron_id: str, *, auth: RequestAuth) -> schemas.Cron:
        resolved = parse_uuid(cron_id, "cron ID")
        allowed = await auth.authorize("crons", "read", {"cron_id": resolved})
        async with self.db.read() as sql:
            row = await crons.get(sql, resolved, allowed)
        if row is None:
            raise _not_found(resolved)
        return from_row(schemas.Cron, row)

    async def patch(self, cron_id: str, body: schemas.CronPatch, *, auth: RequestAuth) -> schemas.Cron:
        resolved = parse_uuid(cron_id, "cron ID")
        if body.is_empty():
            raise BadRequest("Request body cannot be empty")
        if body.schedule is not None:
            check_schedule(body.schedule)
        check_timezone(body.timezone)
        end_time = as_utc(body.end_time) if isinstance(body.end_time, datetime) else None
        run_fields = body.run_fields()
        value: dict[str, Any] = {
            "cron_id": resolved, "schedule": body.schedule, "end_time": end_time, "enabled": body.enabled,
            "on_run_completed": body.on_run_completed, "payload": run_fields or None,
        }  # fmt: skip
        if body.metadata is not None:
            value["metadata"] = dict(body.metadata)
        allowed = await auth.authorize("crons", "update", value)
        now = datetime.now(UTC)
        # Any refusal below raises inside the transaction: nothing is written.
        async with self.db.write() as sql:
            row = await crons.get(sql, resolved, allowed)
            if row is None:
                raise _not_found(resolved)
            changes: dict[str, Any] = {}
            if body.on_run_completed is not None:
                if row.thread_id is not None:
                    raise Invalid("`on_run_completed` applies only to stateless crons")
                changes["on_run_completed"] = body.on_run_completed
            if body.timezone is not None:
                changes["timezone"] = body.timezone
            if body.schedule is not None:
                changes["schedule"] = body.schedule
            if body.schedule is not None or body.timezone is not None:
                schedule, timezone = changes.get("schedule", row.schedule), changes.get("timezone", row.timezone)
                changes["next_run_date"] = next_run_date(schedule, now, timezone)
            if body.end_time is not msgspec.UNSET:
                changes["end_time"] = end_time
            if body.enabled is not None:
                changes["enabled"] = body.enabled
            if value.get("metadata"):
                changes["metadata"] = {**row.metadata, **value["metadata"]}
            # A shallow merge: each field given replaces the stored one (the run's, and the cron's own).
            changes["payload"] = {**row.payload, **request_payload(body)}
            changes["updated_at"] = now
            row = row._replace(**changes)
            self._check_run(row)
            await crons.update_fields(sql, resolved, changes)
        return from_row(schemas.Cron, row)

    async def delete(self, cron_id: str, *, auth: RequestAuth) -> None:
        resolved = parse_uuid(cron_id, "cron ID")
        allowed = await auth.authorize("crons", "delete", {"cron_id": resolved})
        async with self.db.write() as sql:
            if not await crons.delete_one(sql, resolved, allowed):
                raise _not_found(resolved)

    # -- search ---------------------------------------------------------------------------

    async def _filters(self, body: schemas.CronSearch | schemas.CronCount, auth: RequestAuth,
                       page: dict[str, int]) -> dict[str, Any]:  # fmt: skip
        """`crons.filters`' arguments: the request's filters, the `crons` handler's, and (as
        langgraph-api) the `threads` handler's over thread-bound crons' threads."""
        assistant_id = self.assistants.resolve_id(body.assistant_id) if body.assistant_id else None
        thread_id = parse_uuid(body.thread_id, "thread ID") if body.thread_id else None
        value: dict[str, Any] = {
            "assistant_id": assistant_id, "thread_id": thread_id, "metadata": body.metadata or {}, **page
        }  # fmt: skip
        allowed = await auth.authorize("crons", "search", value)
        if thread_id is not None:
            thread_allowed = await auth.authorize("threads", "read", {"thread_id": thread_id})
        else:
            thread_allowed = await auth.authorize("threads", "search", {})
        return {
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "enabled": getattr(body, "enabled", None),
            "metadata": value["metadata"],  # as the handler left it
            "allowed_by": allowed,
            "thread_allowed_by": thread_allowed,
        }

    async def search(self, body: schemas.CronSearch, *, auth: RequestAuth) -> Page[JSONObject]:
        check_limit(body.limit, self.max_search_limit)
        filters = await self._filters(body, auth, {"limit": body.limit, "offset": body.offset})
        async with self.db.read() as sql:
            rows = await crons.search(
                sql,
                crons.filters(sql.dialect, **filters),
                sort_by=body.sort_by or "created_at",
                descending=body.sort_order != "asc",
                limit=body.limit,
                offset=body.offset,
            )
        page = Page.from_rows(rows, limit=body.limit, offset=body.offset)
        items = [selected(from_row(schemas.Cron, r), body.select) for r in page.items]
        return Page(items, page.offset, page.next_offset)

    async def count(self, body: schemas.CronCount, *, auth: RequestAuth) -> int:
        filters = await self._filters(body, auth, {})
        async with self.db.read() as sql:
            return await crons.count(sql, crons.filters(sql.dialect, **filters))
