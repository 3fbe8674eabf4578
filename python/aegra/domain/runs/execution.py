"""Running one run: the graph's `astream`, its events to the broker, the outcome to the database.

The run row holds everything needed (`kwargs` as stored at creation), so a run can be
executed by any worker, now or after a restart. Cancellation arrives as `asyncio` task
cancellation (see executor.py), with the requested action recorded beforehand.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from langgraph.types import Command, Send
from sqlalchemy import delete

from aegra.db.checkpoint_rollback import checkpoints_of_run, delete_checkpoints
from aegra.db.engine import Database
from aegra.db.group_commit import writes_may_lag
from aegra.db.models import Run as RunRow
from aegra.db.run_statements import SETTLE_RUN, SETTLE_THREAD, ClaimedRun, claim_next_run
from aegra.domain.runs.broker import Broker
from aegra.domain.runs.stream_modes import StreamTranslator
from aegra.domain.runs.webhooks import WebhookSender
from aegra.domain.threads.snapshots import jsonable, thread_summary
from aegra.graphs import GraphRegistry
from aegra.serialization import dumps_lenient

logger = logging.getLogger(__name__)


@dataclass
class ExecutionDeps:
    db: Database
    graphs: GraphRegistry
    checkpointer: BaseCheckpointSaver
    store: BaseStore | None
    broker: Broker
    timeout_seconds: float
    # Deletes threads with their checkpoints (the threads service's); for stateless runs.
    delete_threads: Callable[[Sequence[uuid.UUID]], Awaitable[Any]] | None = None
    webhooks: WebhookSender | None = None


@dataclass
class Settled:
    values: Any  # the thread's values after the run
    thread_busy: bool  # other runs of the thread are pending, so the executor should look
    claimed: ClaimedRun | None = None  # the next run, claimed in the same transaction when asked


@dataclass
class Outcome:
    status: str  # success | error | timeout | interrupted
    error: dict[str, Any] | None = None
    cancel_action: str | None = None  # interrupt | rollback, when a user cancelled the run
    # The thread's state after the run (thread_summary), read with the run's own graph when it
    # succeeded; None makes record_outcome read it (a factory graph is then built once more).
    summary: dict[str, Any] | None = None


LOST_WRITES = {
    "error": "CheckpointWriteError",
    "message": "the database failed to commit this run's checkpoint writes; its last steps may be lost",
}


def error_payload(exc: BaseException) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc)}


def _command(body: dict[str, Any]) -> Command:
    goto = body.get("goto")
    if isinstance(goto, dict):
        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    return Command(update=body.get("update"), resume=body.get("resume"), goto=goto or ())


async def execute_run(run_id: uuid.UUID, graph_id: str, kwargs: dict[str, Any], attempt: int, deps: ExecutionDeps,
                      cancel_action: dict[uuid.UUID, str]) -> Outcome:  # fmt: skip
    """Stream the graph, publish events, return how it ended. Never raises for graph errors."""

    async def publish(event: str, payload: Any) -> None:
        await deps.broker.publish(run_id, event, dumps_lenient(payload))

    try:
        await publish("metadata", {"run_id": str(run_id), "attempt": attempt})
        # Under `async`/`exit` durability the checkpoint writes need not be durable before the
        # run goes on: its settle waits for a COMMIT that covers them (db/group_commit.py).
        async with asyncio.timeout(deps.timeout_seconds):
            with writes_may_lag(kwargs.get("durability") != "sync"):
                summary = await _stream_graph(run_id, graph_id, kwargs, deps, publish)
        return Outcome("success", summary=summary)
    except asyncio.CancelledError:
        action = cancel_action.pop(run_id, None)
        if action is None:
            raise  # the server is shutting down: leave the run for recovery
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return Outcome("interrupted", cancel_action=action)
    except TimeoutError as exc:
        error = {"error": "TimeoutError", "message": f"run exceeded {deps.timeout_seconds:g} s"}
        await publish("error", error)
        logger.warning("run %s timed out: %s", run_id, exc)
        return Outcome("timeout", error)
    except Exception as exc:
        error = error_payload(exc)
        logger.info("run %s failed: %s: %s", run_id, type(exc).__name__, exc)
        await publish("error", error)
        return Outcome("error", error)


async def _stream_graph(run_id: uuid.UUID, graph_id: str, kwargs: dict[str, Any], deps: ExecutionDeps,
                        publish: Callable[[str, Any], Awaitable[None]]) -> dict[str, Any] | None:  # fmt: skip
    """Run the graph, its stream translated to the run's events; the thread's state after it."""
    translator = StreamTranslator(kwargs["stream_mode"], subgraphs=kwargs.get("subgraphs", False))
    config: dict[str, Any] = kwargs["config"]
    graph_input = _command(kwargs["command"]) if kwargs.get("command") else kwargs.get("input")
    async with deps.graphs.graph(graph_id, config, checkpointer=deps.checkpointer, store=deps.store) as graph:
        final = FinalState(graph)
        options = {
            "context": kwargs.get("context") or None,
            "stream_mode": sorted({*translator.graph_modes(), *final.modes}),
            "subgraphs": translator.subgraphs,
            "interrupt_before": kwargs.get("interrupt_before"),
            "interrupt_after": kwargs.get("interrupt_after"),
            "durability": kwargs.get("durability") or "async",
        }
        if "events" in translator.requested:
            # `events` needs LangChain's event stream; the other modes ride inside it as the
            # root graph's `on_chain_stream` chunks.
            async for item in graph.astream_events(graph_input, config, version="v2", **options):
                if item["event"] == "on_chain_stream" and not item.get("parent_ids"):
                    for event, payload in translator.translate(item["data"]["chunk"]):
                        await publish(event, payload)
                else:
                    await publish("events", item)
        else:
            async for chunk in graph.astream(graph_input, config, **options):
                final.see(chunk, translator.subgraphs)
                for event, payload in translator.translate(chunk):
                    await publish(event, payload)
        summary = final.summary()
        if summary is None:
            summary = await _read_summary(graph, config["configurable"]["thread_id"], run_id)
    return summary


class FinalState:
    """The thread's state after a run that ran to its end, taken from the run's own stream.

    Reading it back (`aget_state`: a checkpoint read, its deserialization, the next tasks worked
    out again) was ~8% of a small run's cost. The stream tells it when the graph streams its whole
    state as `values` (no output schema narrowing them) and no `__interrupt__` came by: LangGraph
    reports every interrupt in `updates`, a breakpoint's empty one included, so nothing is left
    to run and the thread is idle. Otherwise `summary()` is None and the state is read back.
    """

    modes = ("updates", "values")

    def __init__(self, graph: Any) -> None:
        self._usable = list(getattr(graph, "output_channels", ())) == list(getattr(graph, "stream_channels_asis", ()))
        self._values: Any = _UNSEEN
        self._interrupted = False

    def see(self, chunk: Any, subgraphs: bool) -> None:
        namespace, mode, data = chunk if subgraphs else ((), *chunk)
        if namespace:
            return
        if isinstance(data, dict) and "__interrupt__" in data:
            self._interrupted = True
        elif mode == "values":
            self._values = data

    def summary(self) -> dict[str, Any] | None:
        if not self._usable or self._interrupted or self._values is _UNSEEN:
            return None
        return {"values": jsonable(self._values), "interrupts": {}, "status": "idle"}


_UNSEEN = object()


async def _read_summary(graph: Any, thread_id: str, run_id: uuid.UUID) -> dict[str, Any] | None:
    try:
        return thread_summary(await graph.aget_state({"configurable": {"thread_id": thread_id}}))
    except Exception:
        logger.exception("reading the state of thread %s after run %s", thread_id, run_id)
        return None


async def record_outcome(run_id: uuid.UUID, thread_id: uuid.UUID, graph_id: str, outcome: Outcome,
                         deps: ExecutionDeps, *, failed_commits_at_start: int,
                         claim_next: bool = False) -> Settled:  # fmt: skip
    """Write the run's final status and copy the thread's new state onto the thread row.

    `failed_commits_at_start`: the database's count of failed COMMITs when the run began. If it
    moved, checkpoint writes of this run that nobody waited for may be lost (db/group_commit.py),
    and the run ends in `error`. (Looked at within the settle's own turn: by then every group with
    the run's writes has committed, failed and been counted, or is the settle's own.)
    `claim_next`: also claim the next pending run in the same transaction, for the slot this run
    leaves (a transaction of its own cost each queued run a commit and a dispatcher round).
    """
    summary = outcome.summary
    if summary is None:
        try:
            async with deps.graphs.graph(graph_id, None, checkpointer=deps.checkpointer, store=deps.store) as graph:
                summary = await _read_summary(graph, str(thread_id), run_id)
        except Exception:
            logger.exception("loading graph %s to read thread %s after run %s", graph_id, thread_id, run_id)
    summary = summary or {"values": None, "interrupts": {}, "status": "idle"}
    state_values, interrupts = summary["values"], summary["interrupts"]
    # Pending tasks left by a cancelled run are not a question for the user (a spurious
    # "interrupted" makes chat UIs show an empty approval prompt); breakpoints and interrupts are.
    waiting = bool(interrupts) or (outcome.status == "success" and summary["status"] == "interrupted")
    settled = "error" if outcome.status in ("error", "timeout") else "interrupted" if waiting else "idle"
    now = datetime.now(UTC)
    params = {
        "settled_run_id": run_id, "settled_thread_id": thread_id, "settled_status": outcome.status,
        "settled_error": outcome.error, "state_values": state_values, "state_interrupts": interrupts,
        "settled_thread_status": settled, "now": now,
    }  # fmt: skip
    async with deps.db.direct.write() as sql:
        if deps.db.direct.failed_commits != failed_commits_at_start:
            logger.error("run %s: a COMMIT with its checkpoint writes failed; the run ends in error", run_id)
            params.update(settled_status="error", settled_error=LOST_WRITES, settled_thread_status="error")
        await sql.execute(SETTLE_RUN, params)
        status = await sql.scalar(SETTLE_THREAD, params)
        claimed = await claim_next_run(sql, now) if claim_next else None
    return Settled(values=state_values, thread_busy=status == "busy", claimed=claimed)


async def rollback_run(deps: ExecutionDeps, thread_id: uuid.UUID, run_id: uuid.UUID) -> None:
    """Undo a run: its checkpoints go, and so does the run itself (as langgraph-api's `rollback`)."""
    ids = await checkpoints_of_run(deps.checkpointer, str(thread_id), str(run_id))
    await delete_checkpoints(deps.checkpointer, str(thread_id), ids)
    async with deps.db.session() as session:
        await session.execute(delete(RunRow).where(RunRow.run_id == run_id))
