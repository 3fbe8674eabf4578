"""The rules of assistants: versions, system assistants per graph, search, graph introspection.

Behaviour follows langgraph-api's `/assistants` routes: every create or update writes a new
row to `assistant_versions` and mirrors it on the assistant; `config.configurable` and
`context` are kept equal; assistants whose graph is not configured on this server are
invisible; an `assistant_id` may also be a graph id, meaning that graph's system assistant.
Every method takes the caller's `RequestAuth`: its `assistants` handler may refuse, change the
value, or return a filter on the assistant's metadata that the SQL applies (no match: 404).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aegra.auth import Filter, RequestAuth
from aegra.db.engine import Database
from aegra.db.statements import ConstraintViolation, Statements
from aegra.db.tables import assistants
from aegra.domain.assistants import schemas
from aegra.domain.pagination import Page
from aegra.domain.schemas import (
    JSONObject,
    check_config_and_context,
    check_limit,
    from_row,
    parse_uuid,
    selected,
    sync_config_and_context,
)
from aegra.errors import Conflict, NotFound
from aegra.graphs import GraphRegistry, system_assistant_id
from aegra.ids import new_id

logger = logging.getLogger(__name__)

# Deletes the threads with these ids that an auth filter matches (and their checkpoints and runs);
# the threads service's.
ThreadDeleter = Callable[[Sequence[uuid.UUID], Filter | None], Awaitable[Any]]
# Finds the ids of threads whose metadata contains the given object.
ThreadFinder = Callable[[JSONObject], Awaitable[list[uuid.UUID]]]


class AssistantService:
    def __init__(self, db: Database, graphs: GraphRegistry, *, find_threads: ThreadFinder,
                 delete_threads: ThreadDeleter, max_search_limit: int = 1000) -> None:  # fmt: skip
        """`find_threads`, `delete_threads`: the threads service's, for deleting an assistant's threads."""
        self.db = db
        self.graphs = graphs
        self.max_search_limit = max_search_limit
        self._system_ids = frozenset(system_assistant_id(graph_id) for graph_id in graphs.graph_ids)
        self.find_threads = find_threads
        self.delete_threads = delete_threads

    # -- ids and graphs -------------------------------------------------------------------

    def resolve_id(self, assistant_id: str) -> uuid.UUID:
        """An assistant id, or a graph id standing for that graph's system assistant."""
        if assistant_id in self.graphs:
            return system_assistant_id(assistant_id)
        return parse_uuid(assistant_id, "assistant ID")

    def require_graph(self, graph_id: str) -> None:
        if graph_id not in self.graphs:
            raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {sorted(self.graphs.graph_ids)}")

    async def sync_system_assistants(self) -> None:
        """One assistant per configured graph, with the graph's description; safe to race."""
        for graph_id in self.graphs.graph_ids:
            assistant_id = system_assistant_id(graph_id)
            description = self.graphs.description(graph_id)
            try:
                async with self.db.write() as sql:
                    existing = await assistants.get(sql, assistant_id)
                    if existing is None:
                        fields = _fields(graph_id, graph_id, description, {}, {}, {"created_by": "system"})
                        await assistants.insert(sql, _new_row(assistant_id, fields))
                    elif existing.description != description and description is not None:
                        changes = {"description": description, "updated_at": datetime.now(UTC)}
                        await assistants.set_current(sql, assistant_id, changes)
            except ConstraintViolation:
                # Another worker created it at the same moment: that is the outcome we wanted.
                logger.debug("system assistant for %s created concurrently", graph_id)

    # -- CRUD -----------------------------------------------------------------------------

    async def create(self, body: schemas.AssistantCreate, *, auth: RequestAuth) -> schemas.Assistant:
        assistant_id = parse_uuid(body.assistant_id, "assistant ID") if body.assistant_id else new_id()
        config, context = sync_config_and_context(body.config, body.context)
        self.require_graph(body.graph_id)
        value: dict[str, Any] = {
            "assistant_id": assistant_id,
            "graph_id": body.graph_id,
            "config": config,
            "context": context,
            "metadata": dict(body.metadata or {}),
            "if_exists": body.if_exists,
            "name": body.name or "Untitled",
        }
        allowed = await auth.authorize("assistants", "create", value)
        fields = _fields(body.graph_id, value["name"], body.description, value["config"], value["context"],
                         value["metadata"])  # fmt: skip
        async with self.db.write() as sql:
            existing = await assistants.get(sql, assistant_id)
            if existing is not None:
                visible = allowed is None or await assistants.get(sql, assistant_id, allowed) is not None
                if body.if_exists == "do_nothing" and visible:
                    return from_row(schemas.Assistant, existing)
                raise Conflict(f"Assistant {assistant_id} already exists")
            row = _new_row(assistant_id, fields)
            await assistants.insert(sql, row)
        return schemas.Assistant(**{**row, "version": 1})

    async def get(self, assistant_id: str, *, auth: RequestAuth) -> schemas.Assistant:
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "read", {"assistant_id": resolved})
        async with self.db.read() as sql:
            return from_row(schemas.Assistant, await self._get_row(sql, resolved, allowed))

    async def run_access(self, assistant_id: str, *, auth: RequestAuth) -> uuid.UUID:
        """The assistant a run names, resolved. A non-system one must be readable by the caller
        (404 otherwise), as in langgraph-api; system assistants are everyone's."""
        resolved = self.resolve_id(assistant_id)
        if resolved not in self._system_ids:
            await self.get(str(resolved), auth=auth)
        return resolved

    def for_run(self, row: Any, assistant_id: uuid.UUID) -> Any:
        """What a run is built from (`assistant_id, graph_id, config, context, metadata`: `row`, read
        in the run's own transaction by run_lifecycle.sources); 404 if it is gone, 503 if its graph failed
        to load (`aegra dev`)."""
        found = self._found(row, assistant_id)
        self.graphs.require_loaded(found.graph_id)
        return found

    async def _get_row(self, sql: Statements, assistant_id: uuid.UUID, allowed: Filter | None) -> Any:
        return self._found(await assistants.get(sql, assistant_id, allowed), assistant_id)

    def _found(self, row: Any, assistant_id: uuid.UUID) -> Any:
        if row is None or row.graph_id not in self.graphs:
            raise NotFound(f"Assistant {assistant_id} not found")
        return row

    async def patch(self, assistant_id: str, body: schemas.AssistantPatch, *, auth: RequestAuth) -> schemas.Assistant:
        check_config_and_context(body.config, body.context)
        if body.graph_id is not None:
            self.require_graph(body.graph_id)
        resolved = self.resolve_id(assistant_id)
        value: dict[str, Any] = {
            "assistant_id": resolved,
            "graph_id": body.graph_id,
            "config": body.config,
            "context": body.context,
            "metadata": dict(body.metadata or {}),
            "name": body.name,
        }
        allowed = await auth.authorize("assistants", "update", value)
        async with self.db.write() as sql:
            row = await self._get_row(sql, resolved, allowed)
            config = body.config if body.config else row.config
            context = body.context if body.context is not None else row.context
            if body.config and body.config.get("configurable"):
                context = dict(body.config["configurable"])
            elif body.context:
                config = {**config, "configurable": dict(body.context)}
            fields = _fields(
                body.graph_id if body.graph_id is not None else row.graph_id,
                body.name if body.name is not None else row.name,
                body.description if body.description is not None else row.description,
                config,
                context,
                {**row.metadata, **value["metadata"]},
            )
            now = datetime.now(UTC)
            version = await assistants.add_version(sql, resolved, fields, now)
        return from_row(schemas.Assistant, row._replace(**fields, version=version, updated_at=now))

    async def delete(self, assistant_id: str, *, auth: RequestAuth, delete_threads: bool = False) -> None:
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "delete", {"assistant_id": resolved})
        async with self.db.write() as sql:
            if not await assistants.delete_one(sql, resolved, allowed):
                raise NotFound(f"Assistant with ID {resolved} not found")
        if delete_threads:
            # Only the threads the caller may delete go: others may run this assistant too.
            threads_allowed = await auth.authorize("threads", "delete", {"assistant_id": resolved})
            await self.delete_threads(await self.find_threads({"assistant_id": str(resolved)}), threads_allowed)

    # -- search ---------------------------------------------------------------------------

    async def _conditions(self, sql: Statements, body: schemas.AssistantSearch | schemas.AssistantCount,
                          auth: RequestAuth, **page: int) -> list[Any]:  # fmt: skip
        """What search and count filter on: configured graphs, the request's fields, and the
        handler's filter, with the metadata to search for as the handler left it."""
        if body.graph_id is not None:
            self.require_graph(body.graph_id)
        value: dict[str, Any] = {"graph_id": body.graph_id, "metadata": body.metadata or {}, **page}
        allowed = await auth.authorize("assistants", "search", value)
        return assistants.filters(
            sql.dialect, graph_ids=self.graphs.graph_ids, graph_id=body.graph_id, name=body.name,
            metadata=value["metadata"], allowed_by=allowed,
        )  # fmt: skip

    async def search(self, body: schemas.AssistantSearch, *, auth: RequestAuth) -> Page[dict[str, Any]]:
        check_limit(body.limit, self.max_search_limit)
        async with self.db.read() as sql:
            conditions = await self._conditions(sql, body, auth, limit=body.limit, offset=body.offset)
            # Without sort_by the newest come first; with it, the default order is descending too.
            rows = await assistants.search(
                sql, conditions, sort_by=body.sort_by or "created_at", descending=body.sort_order != "asc",
                limit=body.limit, offset=body.offset,
            )  # fmt: skip
        page = Page.from_rows(rows, limit=body.limit, offset=body.offset)
        items = [selected(from_row(schemas.Assistant, r), body.select) for r in page.items]
        return Page(items, page.offset, page.next_offset)

    async def count(self, body: schemas.AssistantCount, *, auth: RequestAuth) -> int:
        async with self.db.read() as sql:
            return await assistants.count(sql, await self._conditions(sql, body, auth))

    # -- versions -------------------------------------------------------------------------

    async def versions(
        self, assistant_id: str, body: schemas.AssistantVersionsSearch, *, auth: RequestAuth
    ) -> list[schemas.AssistantVersion]:
        check_limit(body.limit, self.max_search_limit)
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "read", {"assistant_id": resolved})
        async with self.db.read() as sql:
            await self._get_row(sql, resolved, allowed)
            rows = await assistants.versions(sql, resolved, metadata=body.metadata, limit=body.limit,
                                             offset=body.offset)  # fmt: skip
        if not rows:
            raise NotFound(f"Assistant {resolved} not found")
        return [from_row(schemas.AssistantVersion, r) for r in rows]

    async def set_latest(self, assistant_id: str, version: int, *, auth: RequestAuth) -> schemas.Assistant:
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "update", {"assistant_id": resolved, "version": version})
        async with self.db.write() as sql:
            row = await self._get_row(sql, resolved, allowed)
            chosen = await assistants.version(sql, resolved, version)
            if chosen is None:
                raise NotFound(f"Version {version} not found for assistant {resolved}")
            current = {**chosen, "version": version, "updated_at": datetime.now(UTC)}
            await assistants.set_current(sql, resolved, current)
        return from_row(schemas.Assistant, row._replace(**current))


def _fields(graph_id: str, name: str, description: str | None, config: JSONObject, context: JSONObject,
            metadata: JSONObject) -> dict[str, Any]:  # fmt: skip
    """What each version of an assistant records."""
    return {"graph_id": graph_id, "name": name, "description": description, "config": config, "context": context,
            "metadata": metadata}  # fmt: skip


def _new_row(assistant_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"assistant_id": assistant_id, **fields, "created_at": now, "updated_at": now}
