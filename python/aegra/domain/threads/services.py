"""The rules of threads: create (with TTL and supersteps), get, patch, delete, search, copy, prune.

Behaviour follows langgraph-api's `/threads` routes: thread ids are UUIDs, metadata patches
merge, deleting a thread deletes its runs (foreign key) and its checkpoints, and search
filters by JSON containment on metadata and on the values mirrored from the latest state.
Every method takes the caller's `RequestAuth`: its `threads` handler may refuse, change the
value (e.g. stamp `metadata.owner`), or return a filter that the SQL applies (no match: 404).
State reads and writes are `ThreadStateService`'s (`self.state`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from aegra.auth import Filter, RequestAuth
from aegra.db.engine import Database
from aegra.db.statements import ConstraintViolation
from aegra.db.tables import checkpoints, threads
from aegra.domain.pagination import Page
from aegra.domain.schemas import JSONObject, check_limit
from aegra.domain.threads import schemas
from aegra.domain.threads.extract import check_extract, extract
from aegra.domain.threads.rows import parse_thread_id, require_thread, to_schema, touched, ttl_columns
from aegra.domain.threads.state import ThreadStateService, no_graph_id
from aegra.errors import Conflict, Invalid, NotFound, NotImplementedHere
from aegra.graphs import GraphRegistry
from aegra.ids import new_id

INCLUDABLE = frozenset({"ttl"})


def parse_include(include: str | None) -> set[str]:
    fields = {f.strip() for f in (include or "").split(",") if f.strip()}
    if unknown := fields - INCLUDABLE:
        raise Invalid(f"Invalid include: {sorted(unknown)}. Expected a comma-separated list of {sorted(INCLUDABLE)}")
    return fields


class ThreadService:
    def __init__(
        self,
        db: Database,
        graphs: GraphRegistry,
        checkpointer: BaseCheckpointSaver,
        *,
        store: BaseStore | None = None,
        max_search_limit: int = 1000,
        default_ttl: schemas.TTL | None = None,
    ) -> None:
        self.db = db
        # `checkpointer.ttl.default_ttl` of the config: the TTL of threads created without one.
        self.default_ttl = default_ttl
        self.checkpointer = checkpointer
        self.max_search_limit = max_search_limit
        self.state = ThreadStateService(db, graphs, checkpointer, store)

    # -- CRUD -----------------------------------------------------------------------------

    async def create(self, body: schemas.ThreadCreate, *, auth: RequestAuth) -> schemas.Thread:
        thread_id = parse_thread_id(body.thread_id) if body.thread_id else new_id()
        value: dict[str, Any] = {
            "thread_id": thread_id,
            "metadata": dict(body.metadata or {}),
            "if_exists": body.if_exists,
        }
        if body.ttl is not None:
            value["ttl"] = msgspec.to_builtins(body.ttl)
        allowed = await auth.authorize("threads", "create", value)
        metadata = value["metadata"]
        if body.supersteps and not metadata.get("graph_id"):
            # Refused before anything is stored (langgraph-api would create the thread, then fail).
            raise no_graph_id(thread_id)
        now = datetime.now(UTC)
        row = {
            "thread_id": thread_id, "created_at": now, "updated_at": now, "state_updated_at": now,
            "metadata": metadata, "config": {}, "status": "idle", "values": None, "interrupts": {},
            **ttl_columns(body.ttl if body.ttl is not None else self.default_ttl, now),
        }  # fmt: skip
        try:
            async with self.db.write() as sql:
                await threads.insert(sql, row)
        except ConstraintViolation:
            # The primary key decides, so two requests racing for one id cannot both create it.
            await self.db.durable()  # the winner's row may still be in SQLite's open group
            async with self.db.read() as sql:
                existing = await threads.get(sql, thread_id, allowed)
            if existing is not None and body.if_exists == "do_nothing":
                # Nothing means nothing: supersteps are not applied to the existing thread either.
                return to_schema(existing)
            raise Conflict(f"Thread with ID {thread_id} already exists") from None
        if body.supersteps:
            try:
                await self.state.apply_supersteps(thread_id, metadata, body.supersteps)
            except Exception:
                # Bad supersteps leave nothing behind: not the thread, not a partial state.
                await self.delete_many([thread_id])
                raise
            async with self.db.read() as sql:
                return to_schema(await require_thread(sql, thread_id))
        return msgspec.convert(row, schemas.Thread)

    async def get(self, thread_id: str, *, auth: RequestAuth, include: str | None = None) -> schemas.Thread:
        include_ttl = "ttl" in parse_include(include)
        resolved = parse_thread_id(thread_id)
        allowed = await auth.authorize("threads", "read", {"thread_id": resolved})
        async with self.db.read() as sql:
            return to_schema(await require_thread(sql, resolved, allowed), include_ttl=include_ttl)

    async def patch(self, thread_id: str, body: schemas.ThreadPatch, *, auth: RequestAuth) -> schemas.Thread:
        resolved = parse_thread_id(thread_id)
        value: dict[str, Any] = {"thread_id": resolved, "metadata": dict(body.metadata or {})}
        allowed = await auth.authorize("threads", "update", value)
        now = datetime.now(UTC)
        async with self.db.write() as sql:
            row = await require_thread(sql, resolved, allowed)
            changes = {"metadata": {**row.metadata, **value["metadata"]}, **ttl_columns(body.ttl, now)}
            changes.update(touched(row._replace(**changes), now))
            await threads.update_fields(sql, resolved, changes)
            return to_schema(row._replace(**changes))

    async def delete(self, thread_id: str, *, auth: RequestAuth) -> None:
        resolved = parse_thread_id(thread_id)
        allowed = await auth.authorize("threads", "delete", {"thread_id": resolved})
        if not await self.delete_many([resolved], allowed):
            raise NotFound(f"Thread with ID {resolved} not found")

    async def delete_many(self, thread_ids: Sequence[uuid.UUID], allowed: Filter | None = None) -> list[uuid.UUID]:
        """Delete threads with their runs and checkpoints; the ids that existed (and `allowed` matched).

        The rows go first, in their own transaction: if deleting the checkpoints fails, no
        thread is left pointing at a half-deleted history.
        """
        if not thread_ids:
            return []
        async with self.db.write() as sql:
            deleted = await threads.delete_ids(sql, thread_ids, allowed)
        await checkpoints.delete_threads(self.checkpointer, [str(t) for t in deleted])
        return deleted

    async def find_by_metadata(self, metadata: JSONObject) -> list[uuid.UUID]:
        """Ids of the threads whose metadata contains `metadata` (assistants' `delete_threads`)."""
        async with self.db.read() as sql:
            return await threads.ids_where(sql, threads.filters(sql.dialect, metadata=metadata))

    # -- search ---------------------------------------------------------------------------

    async def search(self, body: schemas.ThreadSearch, *, auth: RequestAuth) -> Page[dict[str, Any]]:
        check_limit(body.limit, self.max_search_limit)
        if body.extract:
            check_extract(body.extract)
        # An empty `ids` filters nothing, as in langgraph-api.
        ids = [parse_thread_id(i) for i in body.ids] if body.ids else None
        value: dict[str, Any] = {
            "metadata": body.metadata or {},
            "values": body.values,
            "status": body.status,
            "limit": body.limit,
            "offset": body.offset,
            "ids": ids,
        }
        allowed = await auth.authorize("threads", "search", value)
        async with self.db.read() as sql:
            # The handler may have changed the search (e.g. added `metadata.owner`): search what it left.
            conditions = threads.filters(
                sql.dialect, ids=ids, metadata=value["metadata"], values=value["values"], status=value["status"],
                allowed_by=allowed,
            )  # fmt: skip
            rows = await threads.search(
                sql,
                conditions,
                sort_by=body.sort_by or "updated_at",
                descending=body.sort_order != "asc",
                limit=body.limit,
                offset=body.offset,
            )
        page = Page.from_rows(rows, limit=body.limit, offset=body.offset)
        return Page([_shape(r, body.select, body.extract) for r in page.items], page.offset, page.next_offset)

    async def count(self, body: schemas.ThreadCount, *, auth: RequestAuth) -> int:
        value: dict[str, Any] = {"metadata": body.metadata or {}, "values": body.values, "status": body.status}
        allowed = await auth.authorize("threads", "search", value)
        async with self.db.read() as sql:
            conditions = threads.filters(
                sql.dialect, metadata=value["metadata"], values=value["values"], status=value["status"],
                allowed_by=allowed,
            )  # fmt: skip
            return await threads.count(sql, conditions)

    async def storage(self, thread_id: str, *, auth: RequestAuth) -> dict[str, Any]:
        """What the thread's checkpoints occupy in the database (501 for a checkpointer of another kind)."""
        resolved = parse_thread_id(thread_id)
        allowed = await auth.authorize("threads", "read", {"thread_id": resolved})
        async with self.db.read() as sql:
            await require_thread(sql, resolved, allowed)
        report = await checkpoints.thread_storage(self.checkpointer, str(resolved))
        if report is None:
            raise NotImplementedHere(f"Storage is not reported for the {type(self.checkpointer).__name__} checkpointer")
        return {"thread_id": str(resolved), **report}

    # -- copy and prune -------------------------------------------------------------------

    async def copy(self, thread_id: str, *, auth: RequestAuth) -> schemas.Thread:
        """A copy is a read of the source and the creation of a thread: both handlers decide."""
        resolved = parse_thread_id(thread_id)
        allowed = await auth.authorize("threads", "read", {"thread_id": resolved})
        async with self.db.read() as sql:
            source = await require_thread(sql, resolved, allowed)
        copy_id = new_id()
        value: dict[str, Any] = {"thread_id": copy_id, "metadata": dict(source.metadata)}
        await auth.authorize("threads", "create", value)
        # Checkpoints first: if copying them fails, no thread appears with half a history.
        await checkpoints.copy_thread(self.checkpointer, str(resolved), str(copy_id))
        now = datetime.now(UTC)
        row = {
            "thread_id": copy_id, "created_at": now, "updated_at": now,
            "state_updated_at": source.state_updated_at or now, "metadata": value["metadata"],
            "config": dict(source.config), "status": source.status, "values": source.values,
            "interrupts": dict(source.interrupts),
        }  # fmt: skip
        async with self.db.write() as sql:
            await threads.insert(sql, row)
        return msgspec.convert(row, schemas.Thread)

    async def prune(self, body: schemas.ThreadPrune, *, auth: RequestAuth) -> schemas.PruneResult:
        ids = [parse_thread_id(i) for i in body.thread_ids]
        if not ids:
            return schemas.PruneResult(pruned_count=0)
        # Pruning deletes threads or checkpoints: the `delete` handler decides, and filters which.
        allowed = await auth.authorize("threads", "delete", {"thread_ids": ids, "strategy": body.strategy})
        if body.strategy == "delete":
            return schemas.PruneResult(pruned_count=len(await self.delete_many(ids, allowed)))
        async with self.db.read() as sql:
            found = await threads.ids_where(sql, threads.filters(sql.dialect, ids=ids, allowed_by=allowed))
        await checkpoints.keep_latest(self.checkpointer, [str(t) for t in found])
        return schemas.PruneResult(pruned_count=len(found))


def _shape(row: Any, select: Sequence[str] | None, paths: dict[str, str] | None) -> dict[str, Any]:
    thread = to_schema(row)
    fields = {name: getattr(thread, name) for name in schemas.Thread.__struct_fields__ if name != "ttl"}
    shaped = fields if not select else {name: fields[name] for name in select}
    if paths:
        shaped["extracted"] = extract(fields, paths)
    return shaped
