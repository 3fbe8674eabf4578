"""Thread state: reading it (latest, at a checkpoint, history) and writing it (update, supersteps).

The state lives in the checkpointer; the graph named by the thread's `metadata.graph_id` reads
and writes it, as in langgraph-api. A thread without a graph id has an empty state and no
history; writing to it is refused. After every write the thread row mirrors the new state's
values, interrupts and status, so that thread search can filter on them. Reads are authorized
as the thread's `read`, writes as its `update` (a filter that does not match: 404).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aegra.auth import RequestAuth
from aegra.db.engine import Database
from aegra.db.tables import runs, threads
from aegra.domain.threads import schemas
from aegra.domain.threads.rows import parse_thread_id, require_thread, touched
from aegra.domain.threads.snapshots import (
    check_select,
    empty_state,
    jsonable,
    select_state,
    thread_state,
    thread_summary,
)
from aegra.errors import BadRequest, Conflict, NotFound
from aegra.graphs import GraphRegistry

if TYPE_CHECKING:
    # Imported where used: langgraph.types pulls in LangSmith's tracing, a third of the server's startup.
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.pregel import Pregel
    from langgraph.store.base import BaseStore
    from langgraph.types import Send, StateSnapshot


def no_graph_id(thread_id: uuid.UUID) -> BadRequest:
    return BadRequest(
        f"Thread '{thread_id}' has no assigned graph ID. This usually occurs when no runs have been made on this "
        "particular thread. This operation requires a graph ID. Please ensure a run has been made for the thread "
        "or manually update the thread metadata (by setting the 'graph_id' field) before running this operation."
    )


class ThreadStateService:
    def __init__(
        self, db: Database, graphs: GraphRegistry, checkpointer: BaseCheckpointSaver, store: BaseStore | None = None
    ) -> None:
        self.db = db
        self.graphs = graphs
        self.checkpointer = checkpointer
        self.store = store

    async def _row(self, thread_id: str, auth: RequestAuth, action: str) -> Any:
        resolved = parse_thread_id(thread_id)
        allowed = await auth.authorize("threads", action, {"thread_id": resolved})
        async with self.db.read() as sql:
            return await require_thread(sql, resolved, allowed)

    @asynccontextmanager
    async def _graph(self, thread_id: uuid.UUID, config: dict[str, Any], graph_id: str) -> AsyncIterator[Pregel]:
        """The thread's graph, built with the thread's config."""
        if graph_id not in self.graphs:
            raise NotFound(f"Graph '{graph_id}' of thread {thread_id} is not configured on this server")
        config = dict(config)
        config["configurable"] = {**(config.get("configurable") or {}), "thread_id": str(thread_id)}
        async with self.graphs.graph(graph_id, config, checkpointer=self.checkpointer, store=self.store) as graph:
            yield graph

    # -- reading --------------------------------------------------------------------------

    async def get(
        self,
        thread_id: str,
        *,
        auth: RequestAuth,
        checkpoint: dict[str, Any] | None = None,
        subgraphs: bool = False,
        select: list[str] | None = None,
    ) -> dict[str, Any]:
        check_select(select)
        row = await self._row(thread_id, auth, "read")
        graph_id = row.metadata.get("graph_id")
        snapshot = empty_state()
        if graph_id:
            configurable = {"checkpoint_ns": "", **(checkpoint or {}), "thread_id": str(row.thread_id)}
            async with self._graph(row.thread_id, row.config, graph_id) as graph:
                snapshot = await graph.aget_state({"configurable": configurable}, subgraphs=subgraphs)
        checkpoint_id = (checkpoint or {}).get("checkpoint_id")
        if checkpoint_id and snapshot.created_at is None:
            # LangGraph answers an empty state for a checkpoint it does not have (so does
            # langgraph-api); an id that names nothing is a 404, as for any other resource.
            raise NotFound(f"Checkpoint {checkpoint_id} of thread {row.thread_id} not found")
        return select_state(jsonable(thread_state(snapshot)), select)

    async def history(
        self,
        thread_id: str,
        *,
        auth: RequestAuth,
        limit: int = 1,
        before: str | dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint: dict[str, Any] | None = None,
        select: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        check_select(select)
        row = await self._row(thread_id, auth, "read")
        graph_id = row.metadata.get("graph_id")
        if not graph_id:
            return []
        configurable = {"checkpoint_ns": "", **(checkpoint or {}), "thread_id": str(row.thread_id)}
        before_config: Any = schemas.before_config(before)
        async with self._graph(row.thread_id, row.config, graph_id) as graph:
            snapshots = [
                s
                async for s in graph.aget_state_history(
                    {"configurable": configurable}, limit=limit, filter=metadata or None, before=before_config
                )
            ]
        return [select_state(jsonable(thread_state(s)), select) for s in snapshots]

    # -- writing --------------------------------------------------------------------------

    async def update(
        self, thread_id: str, body: schemas.StateUpdate, *, auth: RequestAuth
    ) -> schemas.StateUpdateResult:
        resolved = parse_thread_id(thread_id)
        allowed = await auth.authorize("threads", "update", {"thread_id": resolved})
        configurable: dict[str, Any] = {}
        if body.checkpoint_id:
            configurable["checkpoint_id"] = body.checkpoint_id
        if body.checkpoint:
            configurable.update(body.checkpoint.configurable())
        configurable["thread_id"] = str(resolved)
        configurable.setdefault("checkpoint_ns", "")
        async with self.db.read() as sql:
            row = await require_thread(sql, resolved, allowed)
            if await runs.any_in_flight(sql, resolved):
                raise Conflict(f"Thread {resolved} has in-flight runs")
        graph_id = row.metadata.get("graph_id")
        if not graph_id:
            raise no_graph_id(resolved)
        # As langgraph-api: the graph's id is in the config, so the new checkpoint's metadata says it.
        configurable.setdefault("graph_id", graph_id)
        async with self._graph(row.thread_id, row.config, graph_id) as graph:
            with _refused_update():
                written = await graph.aupdate_state({"configurable": configurable}, body.values, as_node=body.as_node)
            latest = await graph.aget_state({"configurable": {"thread_id": str(resolved)}})
        await self.record(resolved, latest)
        checkpoint = jsonable(written["configurable"])
        return schemas.StateUpdateResult(
            checkpoint=checkpoint, configurable=checkpoint, checkpoint_id=checkpoint["checkpoint_id"]
        )

    async def apply_supersteps(self, thread_id: uuid.UUID, metadata: dict[str, Any],
                               supersteps: Sequence[schemas.Superstep]) -> None:  # fmt: skip
        """`graph.abulk_update_state` on a new thread: each superstep's updates applied together, as one step."""
        graph_id = metadata.get("graph_id")
        if not graph_id:
            raise no_graph_id(thread_id)
        from langgraph.types import StateUpdate

        steps = [[StateUpdate(_update_value(u), u.as_node) for u in step.updates] for step in supersteps]
        config: Any = {"configurable": {"thread_id": str(thread_id), "checkpoint_ns": "", "graph_id": graph_id}}
        async with self._graph(thread_id, {}, graph_id) as graph:
            with _refused_update():
                await graph.abulk_update_state(config, steps)
            latest = await graph.aget_state({"configurable": {"thread_id": str(thread_id)}})
        await self.record(thread_id, latest)

    async def record(self, thread_id: uuid.UUID, snapshot: StateSnapshot) -> None:
        """Mirror the thread's latest state on its row (langgraph-api's `set_status`)."""
        summary = thread_summary(snapshot)
        async with self.db.write() as sql:
            row = await require_thread(sql, thread_id)
            await threads.record_state(
                sql, thread_id, values=summary["values"], interrupts=summary["interrupts"], status=summary["status"],
                touched=touched(row, datetime.now(UTC)),
            )  # fmt: skip


@contextmanager
def _refused_update() -> Iterator[None]:
    """What LangGraph raises for an update that does not fit the graph is the client's error (400)."""
    from langgraph.errors import InvalidUpdateError

    try:
        yield
    # NotImplementedError: LangChain's "Unsupported message type" when coercing messages.
    except (InvalidUpdateError, ValueError, NotImplementedError) as exc:
        raise BadRequest(str(exc).strip() or type(exc).__name__) from None


def _update_value(update: schemas.SuperstepUpdate) -> Any:
    if update.command is None:
        return update.values
    from langgraph.types import Command

    command = update.command
    goto: Any = ()
    if isinstance(command.goto, str | schemas.Send):
        goto = _goto(command.goto)
    elif command.goto:
        goto = [_goto(g) for g in command.goto]
    return Command(update=command.update, resume=command.resume, goto=goto)


def _goto(target: str | schemas.Send) -> str | Send:
    from langgraph.types import Send

    return target if isinstance(target, str) else Send(target.node, target.input)
