"""Every Prometheus family the server exports, and the one function that reports each event.

Callers (the executor, the run service, the store, the database layer, the HTTP middleware) call
these functions where the event happens; nothing else touches prometheus_client. Names carry
their unit (`_seconds`, `_total`), as Prometheus' conventions ask.

Several Granian workers: the server's main process sets PROMETHEUS_MULTIPROC_DIR before it
forks them (exposition.py), so each worker's values live in files there and any worker's
`/metrics` adds them up. prometheus_client picks that mode when it is first imported, which is why
the directory is set before anything imports this module. Counters of a worker that exited stay
in its files, so no counter goes backwards on a scrape; the gauges of live processes are summed
(`livesum`), and a dead worker's gauge files are dropped at the next scrape.

Cost: an event is a dict lookup for its labelled child and a locked float add (in a mmap'd file
in multiprocess mode): about a microsecond, and a run reports a handful. With nothing to serve
them (`http.disable_metrics` and no `--metrics-port`) nothing is counted (`stop_counting`), as
langgraph-api records no metric without a backend to report them to.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# Latencies of HTTP requests and store searches: from a cached read to a slow stream.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Runs: from a trivial graph to the one-hour default timeout (BG_JOB_TIMEOUT_SECS).
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

# -- HTTP -------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "aegra_http_requests_total", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)  # fmt: skip
HTTP_DURATION = Histogram(
    "aegra_http_request_duration_seconds", "Time from a request's arrival to its response's last byte",
    ["route", "method"], buckets=LATENCY_BUCKETS,
)  # fmt: skip

# -- runs -------------------------------------------------------------------------------------
RUNS_CREATED = Counter("aegra_runs_created_total", "Runs created", ["graph"])
RUNS_STARTED = Counter("aegra_runs_started_total", "Runs started executing (first attempts)", ["graph"])
RUNS_RESUMED = Counter(
    "aegra_runs_resumed_total", "Runs resumed from their last checkpoint after their process was lost", ["graph"]
)
RUNS_FINISHED = Counter("aegra_runs_finished_total", "Runs ended, by final status", ["graph", "status"])
RUN_QUEUE_WAIT = Histogram(
    "aegra_run_queue_wait_seconds", "Time from a run's creation (or due time) to its start",
    ["graph"], buckets=QUEUE_BUCKETS,
)  # fmt: skip
RUN_DURATION = Histogram(
    "aegra_run_duration_seconds", "Time from a run's start to its recorded end", ["graph"], buckets=RUN_BUCKETS
)
RUNS_RUNNING = Gauge("aegra_runs_running", "Runs executing now", multiprocess_mode="livesum")
RUNS_PENDING = Gauge(
    "aegra_runs_pending", "Runs waiting in the database to be claimed (counted at scrape time)",
    multiprocess_mode="livemostrecent",
)  # fmt: skip
RUN_CANCELS = Counter("aegra_run_cancels_total", "Cancels asked of runs, by action", ["action"])
STREAMS_OPEN = Gauge(
    "aegra_run_streams_open", "Clients following a run's or a thread's stream now", multiprocess_mode="livesum"
)

# -- the queue and the leases of runs (domain/runs/queue.py; the leases matter on PostgreSQL) -----
RUN_CLAIMS = Counter(
    "aegra_run_claims_total", "Runs this process claimed from the queue, by kind: pending (waiting, "
    "or given back) or taken_over (running elsewhere until its lease ran out: that process died or lost "
    "the database)", ["kind"],
)  # fmt: skip
RUN_CLAIM_DURATION = Histogram(
    "aegra_run_claim_duration_seconds", "Time of one claim transaction, whether it found a run or not",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
LEASE_RENEWALS = Counter(
    "aegra_run_lease_renewals_total", "Rounds renewing the leases of this process's runs, by result (ok, failed)",
    ["result"],
)  # fmt: skip
LEASES_LOST = Counter(
    "aegra_run_leases_lost_total", "Runs whose lease this process lost (another process may have taken them "
    "over), by stage: executing (stopped here) or settling (its outcome not recorded)", ["stage"],
)  # fmt: skip
RUNS_GIVEN_BACK = Counter(
    "aegra_runs_given_back_total", "Runs this process put back in the queue unfinished, by reason: handoff "
    "(the server stopping) or outage (the database went away under it)", ["reason"],
)  # fmt: skip

# -- store ------------------------------------------------------------------------------------
STORE_PUTS = Counter("aegra_store_puts_total", "Store items written (put or deleted)")
STORE_SEARCHES = Counter("aegra_store_searches_total", "Store searches, semantic (with a query) or not", ["kind"])
STORE_SEARCH_DURATION = Histogram(
    "aegra_store_search_duration_seconds", "Time of a store search", ["kind"], buckets=LATENCY_BUCKETS
)
EMBEDDING_CALLS = Counter("aegra_store_embedding_calls_total", "Calls to the embedding model")
EMBEDDED_TEXTS = Counter("aegra_store_embedded_texts_total", "Texts embedded")
EMBEDDING_DURATION = Histogram(
    "aegra_store_embedding_duration_seconds", "Time of one call to the embedding model", buckets=LATENCY_BUCKETS
)

# -- database ---------------------------------------------------------------------------------
POOL_IN_USE = Gauge(
    "aegra_db_pool_connections_in_use", "PostgreSQL connections taken from the server's pool",
    multiprocess_mode="livesum",
)  # fmt: skip
POOL_WAITING = Gauge(
    "aegra_db_pool_waiting", "Transactions waiting for a PostgreSQL connection from the pool",
    multiprocess_mode="livesum",
)  # fmt: skip
SQLITE_COMMITS = Counter("aegra_sqlite_commits_total", "COMMITs of the SQLite group commit")
SQLITE_GROUP_SIZE = Histogram(
    "aegra_sqlite_group_commit_size", "Write transactions committed together in one SQLite COMMIT",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)  # fmt: skip
STATEMENT_ERRORS = Counter(
    "aegra_db_statement_errors_total", "Statements that failed (constraint violations excluded)", ["backend"]
)

# -- processes --------------------------------------------------------------------------------
WORKERS = Gauge("aegra_worker_processes", "Server worker processes alive", multiprocess_mode="livesum")


def worker_started() -> None:
    """Once per worker process: counts it, and gives it a file the exposition finds it by."""
    WORKERS.inc()


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


def run_created(graph: str) -> None:
    RUNS_CREATED.labels(graph).inc()


def run_started(graph: str, *, attempt: int, queue_wait_seconds: float | None) -> None:
    RUNS_RUNNING.inc()
    if attempt > 1:
        RUNS_RESUMED.labels(graph).inc()
        return
    RUNS_STARTED.labels(graph).inc()
    if queue_wait_seconds is not None:
        RUN_QUEUE_WAIT.labels(graph).observe(max(queue_wait_seconds, 0.0))


def run_left() -> None:
    """A run's task here ended: settled, given back, or cut off."""
    RUNS_RUNNING.dec()


def run_finished(graph: str, status: str, seconds: float) -> None:
    RUNS_FINISHED.labels(graph, status).inc()
    RUN_DURATION.labels(graph).observe(seconds)


def run_cancel(action: str) -> None:
    RUN_CANCELS.labels(action).inc()


def runs_pending(count: int) -> None:
    RUNS_PENDING.set(count)


def queue_started() -> None:
    """Show the queue's and leases' counts from the start (0), not from their first event."""
    for kind in ("pending", "taken_over"):
        RUN_CLAIMS.labels(kind)
    for result in ("ok", "failed"):
        LEASE_RENEWALS.labels(result)
    for stage in ("executing", "settling"):
        LEASES_LOST.labels(stage)
    for reason in ("handoff", "outage"):
        RUNS_GIVEN_BACK.labels(reason)


def run_claim(seconds: float, *, claimed: bool, taken_over: bool) -> None:
    RUN_CLAIM_DURATION.observe(seconds)
    if claimed:
        RUN_CLAIMS.labels("taken_over" if taken_over else "pending").inc()


def lease_renewal(ok: bool) -> None:
    LEASE_RENEWALS.labels("ok" if ok else "failed").inc()


def lease_lost(stage: str) -> None:
    LEASES_LOST.labels(stage).inc()


def run_given_back(reason: str) -> None:
    RUNS_GIVEN_BACK.labels(reason).inc()


@contextlib.contextmanager
def stream_open() -> Iterator[None]:
    STREAMS_OPEN.inc()
    try:
        yield
    finally:
        STREAMS_OPEN.dec()


def store_puts(count: int = 1) -> None:
    STORE_PUTS.inc(count)


def store_search(semantic: bool, seconds: float) -> None:
    kind = "semantic" if semantic else "filter"
    STORE_SEARCHES.labels(kind).inc()
    STORE_SEARCH_DURATION.labels(kind).observe(seconds)


def embedding(texts: int, seconds: float) -> None:
    EMBEDDING_CALLS.inc()
    EMBEDDED_TEXTS.inc(texts)
    EMBEDDING_DURATION.observe(seconds)


def pool_waiting(delta: int) -> None:
    POOL_WAITING.inc(delta)


def pool_in_use(delta: int) -> None:
    POOL_IN_USE.inc(delta)


def sqlite_commit(group_size: int) -> None:
    SQLITE_COMMITS.inc()
    SQLITE_GROUP_SIZE.observe(group_size)


def database_opened(backend: str) -> None:
    """Show the database's error count from the start (0), not from its first error."""
    STATEMENT_ERRORS.labels(backend)


def statement_error(backend: str) -> None:
    STATEMENT_ERRORS.labels(backend).inc()


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _no_stream() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def stop_counting() -> None:
    """Count nothing in this process from now on: each event function above becomes a no-op (the
    callers call them through this module, `metrics.http_request(...)`, so they get the no-op)."""
    module = globals()
    for name, value in list(module.items()):
        event = isinstance(value, types.FunctionType) and value.__module__ == __name__ and name[0] != "_"
        if event and name != "stop_counting":
            module[name] = _no_stream if name == "stream_open" else _nothing
