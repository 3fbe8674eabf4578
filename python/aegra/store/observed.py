"""What a store batch reports to the metrics: its puts (deletes are puts of nothing) and its
searches, semantic (with a query) or not, each with the batch's time. Both stores call it from
`abatch`, which every store call (`aput`, `asearch`... and the graphs' own) goes through."""

from __future__ import annotations

from collections.abc import Sequence

from langgraph.store.base import Op, PutOp, SearchOp

from aegra.telemetry import metrics


def observe_batch(ops: Sequence[Op], seconds: float) -> None:
    puts = 0
    for op in ops:
        if isinstance(op, PutOp):
            puts += 1
        elif isinstance(op, SearchOp):
            metrics.store_search(bool(op.query), seconds)
    if puts:
        metrics.store_puts(puts)
