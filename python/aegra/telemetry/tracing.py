"""OpenTelemetry traces, configured by the standard OTEL_* environment variables and exported as
OTLP over HTTP; on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
and then free of any cost otherwise: with tracing off, OpenTelemetry is not even imported, and each
hook below is a test of one module global.

What is traced:
- each HTTP request: a server span (server/observed.py), continuing the caller's `traceparent`;
- each run: a trace of its own, whose root span (`run`) starts at the run's creation and links to
  the span of the request that created it, even when the run executes later or in another
  process: the request's `traceparent` is stored with the run (`runs.traceparent`). Under it: the
  time the run waited in the queue (`run.queue`), its execution (`run.graph`; a run that did not
  wait has neither: its root is its execution), and each node of the graph (`node <name>`): from
  LangGraph's `tasks` stream (`TaskSpans`; a subgraph's nodes when the run streams subgraphs), or
  from LangChain callbacks (`NodeSpans`) for runs streamed as LangChain events;
- store batches with a search, and embedding calls (`store.search`, `store.embed`), under
  whatever span is current (a run's graph, or a request).
Logs carry the current `trace_id` and `span_id` (telemetry/logs.py).

The SDK, its exporter, sampler (OTEL_TRACES_SAMPLER) and resource (OTEL_SERVICE_NAME, default
`aegra`, OTEL_RESOURCE_ATTRIBUTES) are the SDK's own, read from the environment by the SDK.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aegra.telemetry import logs

if TYPE_CHECKING:
    from aegra.telemetry.otel_spans import Spans, TaskSpans

_spans: Spans | None = None  # the hooks (telemetry/otel_spans.py) once `setup()` turned tracing on
_provider: Any = None
_NOTHING = contextlib.nullcontext()

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or env.get("OTEL_TRACES_EXPORTER", "") == "none":
        return False
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def setup() -> bool:
    """Turn tracing on in this process if the environment asks for it; whether it is on."""
    global _spans, _provider
    if _spans is not None or not wanted():
        return _spans is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from aegra.telemetry.otel_spans import HashedResource, Spans

    resource = Resource.create({} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "aegra"})
    _provider = TracerProvider(resource=HashedResource(resource.attributes, resource.schema_url))
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    _spans = Spans(_provider.get_tracer("aegra"))
    logs.trace_ids = _current_ids
    return True


def shutdown() -> None:
    """Export what is buffered (at the server's shutdown)."""
    if _provider is not None:
        _provider.force_flush()


def enabled() -> bool:
    return _spans is not None


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# -- HTTP ---------------------------------------------------------------------------------------


def start_http_span(scope: Any) -> Any:
    """The request's server span (not current yet: `use(span)`), or None with tracing off."""
    return None if _spans is None else _spans.start_http_span(scope)


def use(span: Any) -> contextlib.AbstractContextManager[Any]:
    """Make `span` current for the block (nothing with tracing off)."""
    if span is None or _spans is None:
        return _NOTHING
    return _spans.use(span)


def end_http_span(span: Any, method: str, route: str, status: int) -> None:
    if span is not None and _spans is not None:
        _spans.end_http_span(span, method, route, status)


def traceparent() -> str | None:
    """The current span as a W3C `traceparent`, to store with a run; None with tracing off, or
    when the current span is sampled out (nothing of it is exported to link to)."""
    return None if _spans is None else _spans.traceparent()


# -- runs ---------------------------------------------------------------------------------------


def run_span(run_id: uuid.UUID, graph_id: str, *, created_at: datetime | None, attempt: int,
             parent: str | None) -> contextlib.AbstractContextManager[Any]:  # fmt: skip
    """The root span of a run's own trace, current for the block: from its creation (the queue
    wait, `run.queue`, is its first child) to its end; linked to the request that created it
    (`parent`, its stored `traceparent`). `created_at` None: a run started at its creation, which
    did not wait, and whose root is its execution span too. Nothing with tracing off."""
    if _spans is None:
        return _NOTHING
    # Its creation, as the queue wait's start: a run resumed elsewhere starts at its resumption.
    start = int(created_at.timestamp() * 1_000_000_000) if created_at is not None and attempt == 1 else None
    attributes: dict[str, Any] = {"aegra.run_id": str(run_id), "aegra.graph_id": graph_id}
    if attempt > 1:
        attributes["aegra.attempt"] = attempt  # resumed after its process was lost or stopped
    return _spans.run_span(attributes, start, parent)


def graph_span() -> contextlib.AbstractContextManager[Any]:
    """The run's execution, `run.graph`, under its root; none when the root is the execution
    already (a run that did not wait: the same interval), with tracing off, or sampled out."""
    if _spans is None:
        return _NOTHING
    return _spans.graph_span() or _NOTHING


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A span for the block, under the current one (nothing with tracing off, or when the current
    span is sampled out)."""
    if _spans is None:
        return _NOTHING
    return _spans.span(name, attributes) or _NOTHING


def graph_callbacks() -> list[Any]:
    """LangChain callbacks that make a span of each node of the graph (none with tracing off), for
    the runs streamed through LangChain's event stream, which runs the callbacks anyway."""
    return [] if _spans is None else _spans.graph_callbacks()


def task_spans() -> TaskSpans | None:
    """Spans of the graph's nodes from LangGraph's `tasks` stream, for a run streamed with
    `astream` (None with tracing off, or the run sampled out). Cheaper than callbacks: with any
    callback handler, LangChain reports every runnable inside every node, which cost a small run
    about half its CPU again."""
    return None if _spans is None else _spans.task_spans()
