"""Running one run's graph: its `astream`, its events to the broker, and how it ended.

The run row holds everything needed (`kwargs` as stored at creation), so a run can be executed
by any worker, now or after a restart. This module knows nothing of the database, slots or
cancellation: the executor (executor.py) claims a run, calls `GraphRunner.run` in a task of its
own, and records the `Outcome` (settle.py). A cancelled run's task is cancelled; what that means
is the executor's to say.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aegra.db.outages import is_outage
from aegra.domain.protocol.session import PROTOCOL_EVENT, PROTOCOL_MARKER
from aegra.domain.runs.broker import Broker
from aegra.domain.runs.options import graph_config
from aegra.domain.runs.stream_modes import StreamTranslator
from aegra.domain.threads.snapshots import jsonable, thread_summary
from aegra.graphs import GraphRegistry
from aegra.serialization import dumps_lenient
from aegra.telemetry import tracing
from aegra.telemetry.error_log import log_error

if TYPE_CHECKING:
    # Imported where used: langgraph.types pulls in LangSmith's tracing, a third of the server's startup.
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore
    from langgraph.types import Command

logger = logging.getLogger(__name__)

# The thread's state when it cannot be read after a run.
UNKNOWN_STATE: dict[str, Any] = {"values": None, "interrupts": {}, "status": "idle"}


@dataclass
class Outcome:
    status: str  # success | error | timeout | interrupted
    error: dict[str, Any] | None = None
    cancel_action: str | None = None  # interrupt | rollback, when a user cancelled the run
    # The thread's state after the run (thread_summary): read from the run's own stream when it
    # ran to its end, else read back through the graph (`GraphRunner.summary`).
    summary: dict[str, Any] | None = None


def _resumed(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A run taken over from a process that died, or handed back by one that stopped, goes on from
    the thread's last checkpoint (its own latest), not from its input or fork point again."""
    configurable = {
        key: value for key, value in kwargs["config"]["configurable"].items()
        if key not in ("checkpoint_id", "checkpoint_map")
    }  # fmt: skip
    return {**kwargs, "input": None, "command": None, "config": {**kwargs["config"], "configurable": configurable}}


def error_payload(exc: BaseException) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc)}


def _command(body: dict[str, Any]) -> Command:
    from langgraph.types import Command, Send

    goto = body.get("goto")
    if isinstance(goto, dict):
        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    return Command(update=body.get("update"), resume=body.get("resume"), goto=goto or ())


@dataclass
class GraphRunner:
    graphs: GraphRegistry
    checkpointer: BaseCheckpointSaver
    store: BaseStore | None
    broker: Broker
    timeout_seconds: float

    async def run(self, run_id: uuid.UUID, graph_id: str, kwargs: dict[str, Any], attempt: int) -> Outcome:
        """Stream the graph, publish its events, return how it ended. Never raises for graph errors;
        a cancellation of the calling task propagates."""

        async def publish(event: str, payload: Any) -> None:
            await self.broker.publish(run_id, event, dumps_lenient(payload))

        try:
            await publish("metadata", {"run_id": str(run_id), "attempt": attempt})
            if attempt > 1 and await self._has_checkpoints(run_id, kwargs):
                kwargs = _resumed(kwargs)
            async with asyncio.timeout(self.timeout_seconds):
                summary = await self._stream_graph(run_id, graph_id, kwargs, attempt, publish)
            return Outcome("success", summary=summary)
        except TimeoutError as exc:
            error = {"error": "TimeoutError", "message": f"run exceeded {self.timeout_seconds:g} s"}
            await publish("error", error)
            logger.warning("run %s timed out: %s", run_id, exc)
            return Outcome("timeout", error)
        except Exception as exc:
            if is_outage(exc):
                raise  # not the run's failure: the executor gives it back for another try
            error = error_payload(exc)
            # The graph's own error: once, with its traceback (the run's ids are on the record).
            log_error(logger, "run %s failed: %s: %s", run_id, type(exc).__name__, exc, exc=exc)
            await publish("error", error)
            return Outcome("error", error)

    async def _stream_graph(self, run_id: uuid.UUID, graph_id: str, kwargs: dict[str, Any], attempt: int,
                            publish: Callable[[str, Any], Awaitable[None]]) -> dict[str, Any] | None:  # fmt: skip
        """Run the graph, its stream translated to the run's events; the thread's state after it."""
        translator = StreamTranslator(kwargs["stream_mode"], subgraphs=kwargs.get("subgraphs", False))
        config = cast("RunnableConfig", graph_config(kwargs, run_id, attempt))
        graph_input = _command(kwargs["command"]) if kwargs.get("command") else kwargs.get("input")
        async with self.graphs.graph(graph_id, config, checkpointer=self.checkpointer, store=self.store) as graph:
            final = FinalState(graph)
            options: dict[str, Any] = {
                "context": kwargs.get("context") or None,
                "stream_mode": sorted({*translator.graph_modes(), *final.modes}),
                "subgraphs": translator.subgraphs,
                "interrupt_before": kwargs.get("interrupt_before"),
                "interrupt_after": kwargs.get("interrupt_after"),
                "durability": kwargs.get("durability") or "async",
            }
            if config["configurable"].get(PROTOCOL_MARKER):
                # A run of the thread streaming protocol (domain/protocol/): LangGraph's own protocol
                # events, each as it comes (domain/protocol/session.py adds what the server adds).
                options.pop("stream_mode"), options.pop("subgraphs")
                _trace_nodes(config)
                stream = await graph.astream_events(graph_input, config, version="v3", **options)
                async with stream:
                    async for item in stream:
                        await publish(PROTOCOL_EVENT, item)
            elif "events" in translator.requested:
                # `events` needs LangChain's event stream; the other modes ride inside it as the
                # root graph's `on_chain_stream` chunks.
                _trace_nodes(config)
                async for chain_event in graph.astream_events(graph_input, config, version="v2", **options):
                    if chain_event["event"] == "on_chain_stream" and not chain_event.get("parent_ids"):
                        for event, payload in translator.translate(chain_event["data"]["chunk"]):
                            await publish(event, payload)
                    else:
                        await publish("events", chain_event)
            else:
                # `values` are the graph's output (its output schema), as langgraph-api streams them.
                options["output_keys"] = graph.output_channels
                nodes = tracing.task_spans()  # a span per node, when tracing is on
                if nodes is not None:
                    options["stream_mode"] = sorted({*options["stream_mode"], "tasks"})
                try:
                    async for chunk in graph.astream(graph_input, config, **options):
                        if nodes is not None:
                            nodes.see(chunk, translator.subgraphs)
                        final.see(chunk, translator.subgraphs)
                        for event, payload in translator.translate(chunk):
                            await publish(event, payload)
                finally:
                    if nodes is not None:
                        nodes.close()
            summary = final.summary()
            if summary is None:
                summary = await _read_summary(graph, config["configurable"]["thread_id"], run_id)
        return summary

    async def _has_checkpoints(self, run_id: uuid.UUID, kwargs: dict[str, Any]) -> bool:
        """Whether the run wrote a checkpoint already (LangGraph copies its id into their metadata)."""
        thread = {"configurable": {"thread_id": kwargs["config"]["configurable"]["thread_id"]}}
        async for _ in self.checkpointer.alist(thread, filter={"run_id": str(run_id)}, limit=1):  # type: ignore[arg-type]
            return True
        return False

    async def summary(self, graph_id: str, thread_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
        """The thread's state after a run that did not report it (failed, cancelled): read back
        through its graph (a factory graph is built once more)."""
        summary = None
        try:
            async with self.graphs.graph(graph_id, None, checkpointer=self.checkpointer, store=self.store) as graph:
                summary = await _read_summary(graph, str(thread_id), run_id)
        except Exception as exc:
            if is_outage(exc):
                raise
            logger.exception("loading graph %s to read thread %s after run %s", graph_id, thread_id, run_id)
        return summary or UNKNOWN_STATE


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


def _trace_nodes(config: Any) -> None:
    """A span per node, when tracing is on, for runs streamed through LangChain's events."""
    if callbacks := tracing.graph_callbacks():
        config["callbacks"] = callbacks


async def _read_summary(graph: Any, thread_id: str, run_id: uuid.UUID) -> dict[str, Any] | None:
    try:
        return thread_summary(await graph.aget_state({"configurable": {"thread_id": thread_id}}))
    except Exception as exc:
        if is_outage(exc):
            raise  # the run is not over for that: it is settled later, from its last checkpoint
        logger.exception("reading the state of thread %s after run %s", thread_id, run_id)
        return None
