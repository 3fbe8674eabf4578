"""A span for each node of a run's graph, from LangChain's callbacks (telemetry/tracing.py), for
the runs streamed as LangChain events (the `events` stream mode, the streaming protocol), which
run callbacks anyway; the other runs use the cheaper `TaskSpans`.

LangGraph runs each node as a chain whose metadata names it (`langgraph_node`); the callback sees
its start and end, and the chains inside it (the node's own runnables), which get no span of
their own. A node's parent is the span of the nearest enclosing node (a subgraph's nodes sit under
the node that runs the subgraph), else the span current when the run began (`run.graph`, or
the root `run` of a run that did not wait).
"""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode


class NodeSpans(BaseCallbackHandler):
    run_inline = True  # called on the event loop, in order, not in a thread pool

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        self.root = otel_context.get_current()
        self.parents: dict[uuid.UUID, uuid.UUID | None] = {}
        self.spans: dict[uuid.UUID, Any] = {}
        # The tasks with a span open, by checkpoint namespace: a subgraph run as a node is a chain
        # of the same node inside the node's own (one span for both).
        self.open_tasks: dict[str, uuid.UUID] = {}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: uuid.UUID,
                       parent_run_id: uuid.UUID | None = None, metadata: dict[str, Any] | None = None,
                       name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.parents[run_id] = parent_run_id
        metadata = metadata or {}
        node = metadata.get("langgraph_node")
        task = str(metadata.get("langgraph_checkpoint_ns", ""))
        if node is None or (name is not None and name != node) or task in self.open_tasks:
            return
        self.open_tasks[task] = run_id
        parent = self._enclosing(parent_run_id)
        context = trace.set_span_in_context(parent) if parent is not None else self.root
        attributes = {"aegra.node": str(node), "aegra.step": int(metadata.get("langgraph_step") or 0)}
        self.spans[run_id] = self.tracer.start_span(f"node {node}", context=context, attributes=attributes)

    def _enclosing(self, run_id: uuid.UUID | None) -> Any:
        while run_id is not None:
            found = self.spans.get(run_id)
            if found is not None:
                return found
            run_id = self.parents.get(run_id)
        return None

    def on_chain_end(self, outputs: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._end(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    def _end(self, run_id: uuid.UUID, error: BaseException | None) -> None:
        self.parents.pop(run_id, None)
        span = self.spans.pop(run_id, None)
        if span is None:
            return
        for task in [task for task, opened_by in self.open_tasks.items() if opened_by == run_id]:
            del self.open_tasks[task]
        if error is not None and type(error).__name__ != "GraphInterrupt":
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()
