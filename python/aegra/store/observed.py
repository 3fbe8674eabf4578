"""What a store batch reports: its puts (deletes are puts of nothing) and its searches, semantic
(with a query) or not, each with the batch's time, to the metrics; and a span for a batch with a
search, when tracing is on. Both stores' `abatch`, which every store call (`aput`, `asearch`...
and the graphs' own) goes through, runs inside `observed(ops)`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

from langgraph.store.base import Op, PutOp, SearchOp

from aegra.telemetry import metrics, tracing


@contextlib.contextmanager
def observed(ops: Sequence[Op], *, traced: bool = True) -> Iterator[None]:
    """`traced` False: the caller makes the span (a batch run in a background task of its own,
    as LangGraph's PostgreSQL store does, would start a trace of its own)."""
    searches = [op for op in ops if isinstance(op, SearchOp)]
    started = time.perf_counter()
    if searches and traced and tracing.enabled():
        semantic = any(op.query for op in searches)
        with tracing.span("store.search", **{"aegra.store.searches": len(searches), "aegra.store.semantic": semantic}):
            yield
    else:
        yield
    seconds = time.perf_counter() - started
    for op in searches:
        metrics.store_search(bool(op.query), seconds)
    puts = sum(1 for op in ops if isinstance(op, PutOp))
    if puts:
        metrics.store_puts(puts)
