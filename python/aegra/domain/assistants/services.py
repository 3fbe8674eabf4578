"""The rules of assistants: versions, system assistants per graph, search, graph introspection.

Behaviour follows langgraph-api (api-surface.md §1.1): every create or update writes a new
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

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from aegra.auth import Filter, RequestAuth
from aegra.db.direct_sql import Statements
from aegra.db.engine import Database
from aegra.db.models import Assistant as AssistantRow
from aegra.db.models import AssistantVersion as VersionRow
from aegra.db.repositories import AssistantRepository, AssistantVersionRepository
from aegra.db.run_statements import ASSISTANT_BY_ID, ASSISTANT_FOR_RUN
from aegra.domain.assistants import schemas
from aegra.domain.assistants.rows import select_fields, sync_config_and_context, to_schema, version_to_schema
from aegra.domain.pagination import Page
from aegra.domain.schemas import JSONObject, check_config_and_context, check_limit, parse_uuid
from aegra.errors import Conflict, NotFound
from aegra.graphs import GraphRegistry, system_assistant_id

logger = logging.getLogger(__name__)

# Deletes the threads with these ids that an auth filter matches (and their checkpoints and runs);
# the threads service's.
ThreadDeleter = Callable[[Sequence[uuid.UUID], Filter | None], Awaitable[Any]]
# Finds the ids of threads whose metadata contains the given object.
ThreadFinder = Callable[[JSONObject], Awaitable[list[uuid.UUID]]]

_SORT_CASE_INSENSITIVE = {"name", "graph_id"}


class AssistantService:
    def __init__(self, db: Database, graphs: GraphRegistry, *, max_search_limit: int = 1000) -> None:
        self.db = db
        self.graphs = graphs
        self.max_search_limit = max_search_limit
        self._system_ids = frozenset(system_assistant_id(graph_id) for graph_id in graphs.graph_ids)
        self.find_threads: ThreadFinder | None = None
        self.delete_threads: ThreadDeleter | None = None

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
                async with self.db.session() as session:
                    repo = AssistantRepository(session=session)
                    existing = await repo.get_one_or_none(assistant_id=assistant_id)
                    if existing is None:
                        self._add(
                            session, assistant_id, graph_id, graph_id, description, {}, {}, {"created_by": "system"}
                        )
                    elif existing.description != description and description is not None:
                        existing.description = description
            except IntegrityError:
                # Another worker created it at the same moment: that is the outcome we wanted.
                logger.debug("system assistant for %s created concurrently", graph_id)

    @staticmethod
    def _add(
        session: Any,
        assistant_id: uuid.UUID,
        graph_id: str,
        name: str,
        description: str | None,
        config: JSONObject,
        context: JSONObject,
        metadata: JSONObject,
    ) -> AssistantRow:
        now = datetime.now(UTC)
        fields = {
            "graph_id": graph_id,
            "name": name,
            "description": description,
            "config": config,
            "context": context,
            "metadata_": metadata,
        }
        row = AssistantRow(assistant_id=assistant_id, version=1, created_at=now, updated_at=now, **fields)
        session.add(row)
        session.add(VersionRow(assistant_id=assistant_id, version=1, created_at=now, **fields))
        return row

    # -- CRUD -----------------------------------------------------------------------------

    async def create(self, body: schemas.AssistantCreate, *, auth: RequestAuth) -> schemas.Assistant:
        assistant_id = parse_uuid(body.assistant_id, "assistant ID") if body.assistant_id else uuid.uuid4()
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
        async with self.db.session() as session:
            existing = await AssistantRepository(session=session).get_one_or_none(assistant_id=assistant_id)
            if existing is not None:
                visible = allowed is None or await AssistantRepository(session=session).get_allowed(
                    assistant_id, allowed
                )
                if body.if_exists == "do_nothing" and visible:
                    return to_schema(existing)
                raise Conflict(f"Assistant {assistant_id} already exists")
            row = self._add(
                session,
                assistant_id,
                body.graph_id,
                value["name"],
                body.description,
                value["config"],
                value["context"],
                value["metadata"],
            )
        return to_schema(row)

    async def get(self, assistant_id: str, *, auth: RequestAuth) -> schemas.Assistant:
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "read", {"assistant_id": resolved})
        if allowed is None:  # every run asks: the hot path (db/direct_sql.py)
            async with self.db.direct.read() as sql:
                return to_schema(self._found(await sql.first(ASSISTANT_BY_ID, {"assistant_id": resolved}), resolved))
        async with self.db.read_session() as session:
            return to_schema(await self._get_row(session, resolved, allowed))

    async def run_access(self, assistant_id: str, *, auth: RequestAuth) -> uuid.UUID:
        """The assistant a run names, resolved. A non-system one must be readable by the caller
        (404 otherwise), as in langgraph-api; system assistants are everyone's."""
        resolved = self.resolve_id(assistant_id)
        if resolved not in self._system_ids:
            await self.get(str(resolved), auth=auth)
        return resolved

    async def for_run(self, sql: Statements, assistant_id: uuid.UUID) -> Any:
        """What a run is built from (`assistant_id, graph_id, config, context, metadata`), read in
        the run's own transaction; 404 if it is gone."""
        return self._found(await sql.first(ASSISTANT_FOR_RUN, {"assistant_id": assistant_id}), assistant_id)

    async def _get_row(self, session: Any, assistant_id: uuid.UUID, allowed: Filter | None) -> AssistantRow:
        return self._found(await AssistantRepository(session=session).get_allowed(assistant_id, allowed), assistant_id)

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
        async with self.db.session() as session:
            row = await self._get_row(session, resolved, allowed)
            config = body.config if body.config else row.config
            context = body.context if body.context is not None else row.context
            if body.config and body.config.get("configurable"):
                context = dict(body.config["configurable"])
            elif body.context:
                config = {**config, "configurable": dict(body.context)}
            version = await AssistantVersionRepository(session=session).latest_number(row.assistant_id) + 1
            now = datetime.now(UTC)
            row.graph_id = body.graph_id if body.graph_id is not None else row.graph_id
            row.config, row.context = config, context
            row.metadata_ = {**row.metadata_, **value["metadata"]}
            row.name = body.name if body.name is not None else row.name
            row.description = body.description if body.description is not None else row.description
            row.version, row.updated_at = version, now
            session.add(self._version_of(row, now))
            await session.flush()
            return to_schema(row)

    @staticmethod
    def _version_of(row: AssistantRow, now: datetime) -> VersionRow:
        return VersionRow(
            assistant_id=row.assistant_id,
            version=row.version,
            graph_id=row.graph_id,
            name=row.name,
            description=row.description,
            config=row.config,
            context=row.context,
            metadata_=row.metadata_,
            created_at=now,
        )

    async def delete(self, assistant_id: str, *, auth: RequestAuth, delete_threads: bool = False) -> None:
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "delete", {"assistant_id": resolved})
        async with self.db.session() as session:
            row = await AssistantRepository(session=session).get_allowed(resolved, allowed)
            if row is None:
                raise NotFound(f"Assistant with ID {resolved} not found")
            await session.delete(row)
        if delete_threads and self.find_threads and self.delete_threads:
            # Only the threads the caller may delete go: others may run this assistant too.
            threads_allowed = await auth.authorize("threads", "delete", {"assistant_id": resolved})
            await self.delete_threads(await self.find_threads({"assistant_id": str(resolved)}), threads_allowed)

    # -- search ---------------------------------------------------------------------------

    async def _search_filter(
        self, body: schemas.AssistantSearch | schemas.AssistantCount, auth: RequestAuth, **page: int
    ) -> tuple[Filter | None, dict[str, Any]]:
        """The handler's filter, and the metadata to search for as the handler left it."""
        if body.graph_id is not None:
            self.require_graph(body.graph_id)
        value: dict[str, Any] = {"graph_id": body.graph_id, "metadata": body.metadata or {}, **page}
        return await auth.authorize("assistants", "search", value), value["metadata"]

    async def search(self, body: schemas.AssistantSearch, *, auth: RequestAuth) -> Page[dict[str, Any]]:
        check_limit(body.limit, self.max_search_limit)
        allowed, metadata = await self._search_filter(body, auth, limit=body.limit, offset=body.offset)
        async with self.db.read_session() as session:
            repo = AssistantRepository(session=session)
            conditions = self._conditions(repo, body, metadata, allowed)
            sort_by = body.sort_by or "created_at"
            column: Any = getattr(AssistantRow, sort_by)
            if sort_by in _SORT_CASE_INSENSITIVE:
                column = func.lower(column)
            # Without sort_by the newest come first; with it, the default order is descending too.
            descending = body.sort_order != "asc"
            order = [column.desc() if descending else column.asc(), AssistantRow.assistant_id.asc()]
            statement = repo.statement.where(*conditions).order_by(*order)
            rows = await repo.page(statement, limit=body.limit, offset=body.offset)
        page = Page.from_rows(rows, limit=body.limit, offset=body.offset)
        return Page([select_fields(to_schema(r), body.select) for r in page.items], page.offset, page.next_offset)

    async def count(self, body: schemas.AssistantCount, *, auth: RequestAuth) -> int:
        allowed, metadata = await self._search_filter(body, auth)
        async with self.db.read_session() as session:
            repo = AssistantRepository(session=session)
            return await repo.count_where(self._conditions(repo, body, metadata, allowed))

    def _conditions(
        self,
        repo: AssistantRepository,
        body: schemas.AssistantSearch | schemas.AssistantCount,
        metadata: dict[str, Any],
        allowed: Any,
    ) -> list[Any]:
        """What search and count filter on: configured graphs, the request's fields, the auth filter."""
        return repo.filters(
            graph_ids=self.graphs.graph_ids,
            graph_id=body.graph_id,
            name=body.name,
            metadata=metadata,
            allowed=allowed,
        )

    # -- versions -------------------------------------------------------------------------

    async def versions(
        self, assistant_id: str, body: schemas.AssistantVersionsSearch, *, auth: RequestAuth
    ) -> list[schemas.AssistantVersion]:
        check_limit(body.limit, self.max_search_limit)
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "read", {"assistant_id": resolved})
        async with self.db.read_session() as session:
            await self._get_row(session, resolved, allowed)
            rows = await AssistantVersionRepository(session=session).search(
                resolved, metadata=body.metadata, limit=body.limit, offset=body.offset
            )
        if not rows:
            raise NotFound(f"Assistant {resolved} not found")
        return [version_to_schema(r) for r in rows]

    async def set_latest(self, assistant_id: str, version: int, *, auth: RequestAuth) -> schemas.Assistant:
        resolved = self.resolve_id(assistant_id)
        allowed = await auth.authorize("assistants", "update", {"assistant_id": resolved, "version": version})
        async with self.db.session() as session:
            row = await self._get_row(session, resolved, allowed)
            chosen = await AssistantVersionRepository(session=session).get_one_or_none(
                assistant_id=resolved, version=version
            )
            if chosen is None:
                raise NotFound(f"Version {version} not found for assistant {resolved}")
            row.graph_id, row.name, row.description = chosen.graph_id, chosen.name, chosen.description
            row.config, row.context, row.metadata_ = chosen.config, chosen.context, chosen.metadata_
            row.version, row.updated_at = chosen.version, datetime.now(UTC)
            await session.flush()
            return to_schema(row)
