"""What the server opens at startup and closes at shutdown, in one place."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Litestar
from litestar.datastructures import State

from aegra import vec
from aegra.auth import RequestAuth
from aegra.config import Settings
from aegra.db import notifications
from aegra.db.checkpointer import open_checkpointer
from aegra.db.engine import Database
from aegra.domain.a2a.services import A2AService
from aegra.domain.assistants.services import AssistantService
from aegra.domain.crons.scheduler import CronScheduler
from aegra.domain.crons.services import CronService
from aegra.domain.mcp.services import McpService
from aegra.domain.runs import pending_gauge
from aegra.domain.runs.broker import Broker, InProcessBroker
from aegra.domain.runs.execution import GraphRunner
from aegra.domain.runs.executor import Executor
from aegra.domain.runs.postgres_broker import PostgresBroker
from aegra.domain.runs.queue import (
    Leases,
    LocalQueue,
    PostgresLeases,
    PostgresQueue,
    RunQueue,
    SingleProcessLeases,
)
from aegra.domain.runs.services import RunService
from aegra.domain.runs.settle import Settler
from aegra.domain.store.services import StoreService
from aegra.domain.threads.schemas import TTL
from aegra.domain.threads.services import ThreadService
from aegra.domain.threads.ttl_sweeper import ThreadTTLSweeper
from aegra.domain.webhooks.deliverer import Deliverer
from aegra.graphs import GraphRegistry
from aegra.server.cpu_affinity import pin_to_one_core
from aegra.store.factory import open_store
from aegra.telemetry import metrics, tracing

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore
    from langgraph_sdk import Auth

logger = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    graphs: GraphRegistry
    db: Database
    checkpointer: BaseCheckpointSaver
    store: BaseStore
    assistants: AssistantService
    threads: ThreadService
    runs: RunService
    crons: CronService
    store_api: StoreService
    mcp: McpService
    a2a: A2AService


@asynccontextmanager
async def open_resources(
    settings: Settings, loopback_app: Any | None = None, auth: Auth | None = None, *, keep_broken_graphs: bool = False
) -> AsyncIterator[Resources]:
    """`loopback_app`: this server's ASGI app, for webhooks addressed to its own routes; `auth`: its
    `Auth` object, which judges cron firings; `keep_broken_graphs`: see `GraphRegistry.load`."""
    # Import user graphs first: a broken graph file should stop startup before anything opens. In a
    # thread, as the official server does: a graph module may take seconds to import (its model
    # clients, torch...), and the loop meanwhile answers liveness (server/warm_start.py).
    graphs = await asyncio.to_thread(
        GraphRegistry.load, settings.config, settings.base_dir, keep_broken=keep_broken_graphs
    )
    async with AsyncExitStack() as stack:
        db = await Database.open(settings.database)
        stack.push_async_callback(db.close)
        checkpointer = await stack.enter_async_context(open_checkpointer(settings.database, database=db))
        store = await stack.enter_async_context(open_store(settings.database, settings.config.store, settings.base_dir))
        vec.announce()
        ttl = settings.config.checkpointer.ttl if settings.config.checkpointer else None
        threads = ThreadService(
            db,
            graphs,
            checkpointer,
            store=store,
            max_search_limit=settings.max_search_limit,
            default_ttl=TTL(ttl=ttl.default_ttl, strategy=ttl.strategy) if ttl and ttl.default_ttl else None,
        )
        assistants = AssistantService(
            db, graphs, find_threads=threads.find_by_metadata, delete_threads=threads.delete_many,
            max_search_limit=settings.max_search_limit,
        )  # fmt: skip
        await assistants.sync_system_assistants()
        # Threads may carry a TTL of their own even without a configured default: always sweep.
        sweeper = ThreadTTLSweeper(
            db,
            checkpointer,
            threads.delete_many,
            interval_minutes=ttl.sweep_interval_minutes if ttl else None,
            batch_limit=ttl.sweep_limit if ttl else 10_000,
        )
        sweeper.start()
        stack.push_async_callback(sweeper.stop)
        http = settings.config.http
        webhooks = None
        if not (http and http.disable_webhooks):
            webhooks = Deliverer(db, settings.config.webhooks, settings.webhook_secrets, loopback_app,
                                 serves_routes=settings.role != "worker")  # fmt: skip
            await webhooks.start()
            stack.push_async_callback(webhooks.stop)  # after the executor stops (the stack unwinds in reverse)
        settler = Settler(db, checkpointer, delete_threads=threads.delete_many, webhooks=webhooks)
        broker, executor = await _open_executor(stack, settings, db, graphs, checkpointer, store, settler)
        runs = RunService(
            db,
            assistants,
            broker,
            executor,
            max_search_limit=settings.max_search_limit,
            webhooks=webhooks.policy if webhooks else None,
        )
        scheduler = CronScheduler(db, runs, auth, interval_seconds=settings.cron_scheduler_sleep_time)
        scheduler.start()
        stack.push_async_callback(scheduler.stop)  # before the executor stops (the stack unwinds in reverse)
        yield Resources(
            settings=settings,
            graphs=graphs,
            db=db,
            checkpointer=checkpointer,
            store=store,
            assistants=assistants,
            threads=threads,
            runs=runs,
            crons=CronService(db, assistants, runs, max_search_limit=settings.max_search_limit),
            store_api=StoreService(store, max_search_limit=settings.max_search_limit),
            mcp=McpService(assistants, runs, threads, sessions=bool(http and http.mcp_sessions)),
            a2a=A2AService(assistants, runs, threads),
        )


async def _open_executor(
    stack: AsyncExitStack, settings: Settings, db: Database, graphs: GraphRegistry,
    checkpointer: BaseCheckpointSaver, store: BaseStore, settler: Settler,
) -> tuple[Broker, Executor]:  # fmt: skip
    """The broker and the executor, with the queue and leases of the backend: in-process on SQLite
    (one process owns the file), through PostgreSQL's tables and LISTEN/NOTIFY on PostgreSQL."""
    broker: Broker
    queue: RunQueue
    leases: Leases
    if settings.database.backend == "sqlite":
        broker, queue, leases = InProcessBroker(), LocalQueue(db), SingleProcessLeases(db)
        grace = None  # runs cut off by a stop are settled at the next start
    else:
        listener = notifications.Listener(settings.database.session_url)  # LISTEN needs a session
        postgres_broker = broker = PostgresBroker(db, listener)
        leases = PostgresLeases(db, settings.run_lease_seconds)
        queue = PostgresQueue(db, listener, leases.owner)
        await listener.start()
        stack.push_async_callback(listener.stop)
        await postgres_broker.start()
        stack.push_async_callback(postgres_broker.stop)
        grace = settings.shutdown_grace_seconds
    runner = GraphRunner(graphs, checkpointer, store, broker, timeout_seconds=settings.bg_job_timeout_secs)
    executor = Executor(
        db=db, queue=queue, leases=leases, broker=broker, runner=runner, settler=settler,
        concurrency=0 if settings.role == "api" else settings.n_jobs_per_worker, shutdown_grace_seconds=grace,
    )  # fmt: skip
    await executor.start()
    stack.push_async_callback(executor.stop)
    return broker, executor


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    if app.state.settings.pin_cpu:
        pin_to_one_core()  # first: the threads started from here on inherit the core
    state = app.state
    keep_broken = bool(state.get("keep_broken_graphs"))
    loopback_app = state.get("routes_app", app)
    async with open_resources(
        state.settings, loopback_app=loopback_app, auth=state.get("auth"), keep_broken_graphs=keep_broken
    ) as resources:
        app.state.resources = resources
        metrics.worker_started()
        tune_garbage_collector()
        async with pending_gauge.refreshing(resources.db):  # for --metrics-port
            yield
    tracing.shutdown()


# The youngest generation is collected after this many net allocations of containers (Python's
# default: 700). A run allocates hundreds, nearly all freed by reference counting, so at 700 a
# collection came every few runs and each walked what the runs in flight hold: 70-80 us per run
# in all, timed with `gc.callbacks` under a 16-client load. At 7,000 it was 15 us.
YOUNG_GENERATION_THRESHOLD = 7_000


def tune_garbage_collector() -> None:
    """Keep what exists after startup (modules, graphs, models: alive as long as the server) out
    of the garbage collector's full passes. Under load, each full pass over that heap stopped the
    event loop for 75-120 ms every ~4 s (timed with `gc.callbacks`), which set the latency p99.
    And collect the youngest generation less often (YOUNG_GENERATION_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)


# What handlers can ask for by parameter name, and the `Resources` attribute that serves it.
INJECTABLE = {
    "db": "db",
    "settings": "settings",
    "assistants": "assistants",
    "threads": "threads",
    "runs": "runs",
    "crons": "crons",
    "store": "store_api",
    "mcp": "mcp",
    "a2a": "a2a",
}


# The services serve authenticated routes only. Their providers take `auth` so that Litestar
# resolves it before them, one dependency at a time: dependencies side by side are resolved in an
# anyio task group, two tasks for each request.
AFTER_AUTH = frozenset({"assistants", "threads", "runs", "crons", "store", "mcp", "a2a"})


def provider(name: str) -> Callable[..., Any]:
    """A Litestar dependency that hands out one of the running server's resources."""
    attribute = INJECTABLE[name]

    def provide(state: State) -> Any:
        return getattr(state.resources, attribute)

    def provide_after_auth(state: State, auth: RequestAuth) -> Any:
        return getattr(state.resources, attribute)

    return provide_after_auth if name in AFTER_AUTH else provide
