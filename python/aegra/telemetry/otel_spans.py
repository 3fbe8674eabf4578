"""The spans themselves, with OpenTelemetry's API and SDK: imported by telemetry/tracing.py only
once tracing is on (tracing.py says what is traced and why; this is how, at the least cost).

What keeps a run's spans cheap (benches/README.md, "Tracing"; each recorded span costs the SDK
and the OTLP encoding about 0.3 M instructions):
- a span whose parent is sampled out is not started at all: every built-in sampler decides per
  trace (the parent's decision, or the trace id's ratio), so the SDK would drop it anyway, after
  making ids, a sampling decision and a context for it. With every trace sampled out a run then
  costs one sampling decision for its request and one for its root;
- a run's link to its request is added once its root is known to record (it is read from the
  stored `traceparent` only then), and a request that is not recorded stores no `traceparent`;
- a span is made current by attaching a context, not through `use_span`'s generator;
- a run that did not wait in the queue has no `run.graph`: its root covers the same interval
  (its execution, plus the few writes that record its outcome);
- no attribute that says nothing: the link has none (a run's root links to one thing, the
  request that created it), `aegra.attempt` is only on a resumed run's root (2 and more).
"""

from __future__ import annotations

import contextvars
import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# The stored `traceparent` is W3C's format, whatever OTEL_PROPAGATORS says for HTTP headers.
_W3C = TraceContextTextMapPropagator()
_ROOT = otel_context.Context()  # a run's trace starts from nothing: its request is a link, not a parent
# Whether the current run's root span is also its execution's (a run that did not wait).
_ROOT_IS_GRAPH: contextvars.ContextVar[bool] = contextvars.ContextVar("aegra_root_is_graph", default=False)


class HashedResource(Resource):
    """The process's resource (service name, OTEL_RESOURCE_ATTRIBUTES...), hashed once: the OTLP
    encoder groups every exported span by its resource, and `Resource.__hash__` serialises the
    attributes to JSON each time (0.04 M instructions a span, an eighth of its whole cost). A
    resource is immutable, so its hash is too."""

    def __init__(self, attributes: Any, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


class Current:
    """`span` current for the block (ended after it with `end`). Like `trace.use_span`: an error
    escaping the block is recorded on the span, which then says ERROR (it is a class, not a
    generator, because it runs around every request and span)."""

    __slots__ = ("end", "span", "token")

    def __init__(self, span: Any, end: bool = False) -> None:
        self.span, self.end = span, end

    def __enter__(self) -> Any:
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        otel_context.detach(self.token)
        if isinstance(error, Exception) and self.span.is_recording():
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        if self.end:
            self.span.end()


class RunRoot(Current):
    """A run's root span, current for the run; `is_graph`: the run did not wait, so the root is
    its execution span too (`graph_span` makes none)."""

    __slots__ = ("graph_token", "is_graph")

    def __init__(self, span: Any, *, is_graph: bool) -> None:
        super().__init__(span, end=True)
        self.is_graph = is_graph

    def __enter__(self) -> Any:
        self.graph_token = _ROOT_IS_GRAPH.set(self.is_graph)
        return super().__enter__()

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        _ROOT_IS_GRAPH.reset(self.graph_token)
        super().__exit__(kind, error, tb)


def _parent_dropped() -> bool:
    """Whether the current span exists and is sampled out (then so is anything under it)."""
    current = trace.get_current_span()
    return current is not INVALID_SPAN and not current.is_recording()


class Spans:
    """The hooks of telemetry/tracing.py with tracing on."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def start_http_span(self, scope: Any) -> Any:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", ())}
        attributes = {"http.request.method": scope["method"], "url.path": scope["path"]}
        return self.tracer.start_span(scope["method"], context=propagate.extract(headers), kind=SpanKind.SERVER,
                                      attributes=attributes)  # fmt: skip

    def use(self, span: Any) -> Current:
        return Current(span)

    def end_http_span(self, span: Any, method: str, route: str, status: int) -> None:
        if span.is_recording():  # not when sampled out (a caller's traceparent says so, or OTEL_TRACES_SAMPLER)
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.route": route, "http.response.status_code": status})
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    def traceparent(self) -> str | None:
        if not trace.get_current_span().is_recording():
            return None  # a span nobody exports: nothing to link to
        carrier: dict[str, str] = {}
        _W3C.inject(carrier)
        return carrier.get("traceparent")

    def run_span(self, attributes: dict[str, Any], start: int | None, parent: str | None) -> RunRoot:
        """The run's root (see tracing.run_span), and its queue wait when `start` (ns) is before now."""
        now = time.time_ns()
        start = now if start is None else min(start, now)
        root = self.tracer.start_span("run", context=_ROOT, start_time=start, attributes=attributes)
        if root.is_recording():
            if parent:
                linked = trace.get_current_span(_W3C.extract({"traceparent": parent})).get_span_context()
                if linked.is_valid:
                    root.add_link(linked)
            if start < now:
                queue = self.tracer.start_span("run.queue", context=trace.set_span_in_context(root), start_time=start)
                queue.end(end_time=now)
        return RunRoot(root, is_graph=start == now)

    def graph_span(self) -> Current | None:
        """`run.graph`, unless the run's root is its execution already (it did not wait)."""
        return None if _ROOT_IS_GRAPH.get() else self.span("run.graph", {})

    def span(self, name: str, attributes: dict[str, Any]) -> Any:
        if _parent_dropped():
            return None
        return Current(self.tracer.start_span(name, attributes=attributes), end=True)

    def graph_callbacks(self) -> list[Any]:
        if _parent_dropped():
            return []
        from aegra.telemetry.node_spans import NodeSpans

        return [NodeSpans(self.tracer)]

    def task_spans(self) -> TaskSpans | None:
        return None if _parent_dropped() else TaskSpans(self.tracer)


class TaskSpans:
    """Feed it every chunk of `astream(stream_mode=[..., "tasks"])`: a task's start opens a span,
    its result ends it; a subgraph's tasks (with `subgraphs`) go under their parent node's."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        self.spans: dict[str, Any] = {}

    def see(self, chunk: Any, subgraphs: bool) -> None:
        namespace, mode, data = chunk if subgraphs else ((), *chunk)
        if mode != "tasks" or not isinstance(data, dict):
            return
        task_id = str(data.get("id"))
        if "result" in data or "error" in data:
            span = self.spans.pop(task_id, None)
            if span is not None:
                if data.get("error"):
                    span.set_status(Status(StatusCode.ERROR, str(data["error"])))
                span.end()
            return
        parent = self.spans.get(namespace[-1].rpartition(":")[2]) if namespace else None
        context = trace.set_span_in_context(parent) if parent is not None else None
        self.spans[task_id] = self.tracer.start_span(f"node {data.get('name')}", context=context)

    def close(self) -> None:
        """End what the graph left open (a run cancelled or interrupted mid-step)."""
        for span in self.spans.values():
            span.end()
        self.spans.clear()
