"""OpenTelemetry traces, configured by the standard OTEL_* environment variables and exported as
OTLP over HTTP; on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
and then free of any cost otherwise: with tracing off, OpenTelemetry is not even imported, and each
hook below is a test of one module global.

What is traced:
- each HTTP request: a server span (server/observed.py), continuing the caller's `traceparent`;
- each run: a trace of its own, whose root span (`run`) starts at the run's creation and links to
  the span of the request that created it, even when the run executes later or in another
  process: the request's `traceparent` is stored with the run (`runs.traceparent`). Under it: the
  time the run waited in the queue (`run.queue`), its execution (`run.graph`), and each node of
  the graph (`node <name>`): from LangGraph's `tasks` stream (`TaskSpans`; a subgraph's nodes
  when the run streams subgraphs), or from LangChain callbacks (`NodeSpans`) for runs streamed as
  LangChain events;
- store batches with a search, and embedding calls (`store.search`, `store.embed`), under
  whatever span is current (a run's graph, or a request).
Logs carry the current `trace_id` and `span_id` (telemetry/logs.py).

The SDK, its exporter, sampler (OTEL_TRACES_SAMPLER) and resource (OTEL_SERVICE_NAME, default
`aegra`, OTEL_RESOURCE_ATTRIBUTES) are the SDK's own, read from the environment by the SDK.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aegra.telemetry import logs

_tracer: Any = None  # an OpenTelemetry Tracer once `setup()` turned tracing on
_provider: Any = None
_NOTHING = contextlib.nullcontext()

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or env.get("OTEL_TRACES_EXPORTER", "") == "none":
        return False
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def setup() -> bool:
    """Turn tracing on in this process if the environment asks for it; whether it is on."""
    global _tracer, _provider
    if _tracer is not None or not wanted():
        return _tracer is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "aegra"})
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    _tracer = _provider.get_tracer("aegra")
    logs.trace_ids = _current_ids
    return True


def shutdown() -> None:
    """Export what is buffered (at the server's shutdown)."""
    if _provider is not None:
        _provider.force_flush()


def enabled() -> bool:
    return _tracer is not None


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# -- HTTP ---------------------------------------------------------------------------------------


def start_http_span(scope: Any) -> Any:
    """The request's server span (not current yet: `use(span)`), or None with tracing off."""
    if _tracer is None:
        return None
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", ())}
    parent = propagate.extract(headers)
    attributes = {"http.request.method": scope["method"], "url.path": scope["path"]}
    return _tracer.start_span(scope["method"], context=parent, kind=SpanKind.SERVER, attributes=attributes)


def use(span: Any) -> contextlib.AbstractContextManager[Any]:
    """Make `span` current for the block (nothing with tracing off)."""
    if span is None:
        return _NOTHING
    from opentelemetry import trace

    return trace.use_span(span, end_on_exit=False)


def end_http_span(span: Any, method: str, route: str, status: int) -> None:
    if span is None:
        return
    if not span.is_recording():  # sampled out (a caller's traceparent says so, or OTEL_TRACES_SAMPLER)
        span.end()
        return
    from opentelemetry.trace import Status, StatusCode

    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def traceparent() -> str | None:
    """The current span as a W3C `traceparent`, to store with a run; None with tracing off."""
    if _tracer is None:
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


# -- runs ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def run_span(run_id: uuid.UUID, graph_id: str, *, created_at: datetime | None, attempt: int,
             parent: str | None) -> Iterator[Any]:  # fmt: skip
    """The root span of a run's own trace, current for the block: from its creation (the queue
    wait is its first child; `created_at` None: a run started at its creation, which did not
    wait) to its end; linked to the request that created it (`parent`, its stored
    `traceparent`). Nothing with tracing off. (Spans cost: ~120 us each here, half of it the
    OTLP encoding, so a run that did not wait gets no queue span.)"""
    if _tracer is None:
        yield None
        return
    from opentelemetry import propagate, trace
    from opentelemetry.context import Context
    from opentelemetry.trace import Link

    links = []
    if parent:
        linked = trace.get_current_span(propagate.extract({"traceparent": parent})).get_span_context()
        if linked.is_valid:
            links.append(Link(linked, {"aegra.link": "created by"}))
    now = time.time_ns()
    # Its creation, as the queue wait's start: a run resumed elsewhere starts at its resumption.
    start = _ns(created_at) if created_at is not None and attempt == 1 else now
    attributes = {"aegra.run_id": str(run_id), "aegra.graph_id": graph_id, "aegra.attempt": attempt}
    root = _tracer.start_span("run", context=Context(), links=links, start_time=min(start, now), attributes=attributes)
    with trace.use_span(root, end_on_exit=True, record_exception=True):
        if start < now:
            _tracer.start_span("run.queue", start_time=start).end(end_time=now)
        yield root


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A span for the block, under the current one (nothing with tracing off)."""
    if _tracer is None:
        return _NOTHING
    return _tracer.start_as_current_span(name, attributes=attributes)


def graph_callbacks() -> list[Any]:
    """LangChain callbacks that make a span of each node of the graph (none with tracing off), for
    the runs streamed through LangChain's event stream, which runs the callbacks anyway."""
    if _tracer is None:
        return []
    from aegra.telemetry.node_spans import NodeSpans

    return [NodeSpans(_tracer)]


def task_spans() -> TaskSpans | None:
    """Spans of the graph's nodes from LangGraph's `tasks` stream, for a run streamed with
    `astream` (None with tracing off). Cheaper than callbacks: with any callback handler, LangChain
    reports every runnable inside every node, which cost a small run about half its CPU again."""
    return None if _tracer is None else TaskSpans(_tracer)


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
                    from opentelemetry.trace import Status, StatusCode

                    span.set_status(Status(StatusCode.ERROR, str(data["error"])))
                span.end()
            return
        from opentelemetry import trace

        parent = self.spans.get(namespace[-1].rpartition(":")[2]) if namespace else None
        context = trace.set_span_in_context(parent) if parent is not None else None
        self.spans[task_id] = self.tracer.start_span(f"node {data.get('name')}", context=context)

    def close(self) -> None:
        """End what the graph left open (a run cancelled or interrupted mid-step)."""
        for span in self.spans.values():
            span.end()
        self.spans.clear()
