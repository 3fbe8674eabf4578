"""Tables of the API's resources: assistants (with versions), threads, runs (with their stream
events), crons, and the outbox of run webhooks (`webhook_deliveries`).

Columns follow the resource shapes of the LangGraph Platform API (langgraph-sdk's `schema.py`:
`Assistant`, `Thread`, `Run`, `Cron`).
The same models serve SQLite (`create_all()`) and PostgreSQL (Alembic migrations in
`db/migrations/`; a change here needs a new migration there). JSON columns are JSONB on
PostgreSQL and JSON text on SQLite. `metadata` is a reserved name on declarative classes,
so those attributes are called `metadata_` and mapped to a `metadata` column.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from advanced_alchemy.base import CommonTableAttributes, create_registry
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Table, Text, literal_column, text
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Our own registry (not advanced-alchemy's shared one), so user code that also uses
# advanced-alchemy never mixes its tables into ours. Ids are stored as 32-char hex text on
# SQLite (readable with the sqlite3 shell) and as native UUID on PostgreSQL.
registry = create_registry({uuid.UUID: GUID(binary=False), datetime: DateTimeUTC, dict[str, Any]: JsonB})


class Base(CommonTableAttributes, AsyncAttrs, DeclarativeBase):
    __abstract__ = True
    registry = registry
    metadata = registry.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json_object(name: str | None = None) -> Mapped[dict[str, Any]]:
    if name is None:
        return mapped_column(JsonB, nullable=False, default=dict, server_default=text("'{}'"))
    return mapped_column(name, JsonB, nullable=False, default=dict, server_default=text("'{}'"))


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTimeUTC, nullable=False, default=utcnow)


def _updated_at() -> Mapped[datetime]:
    # No `onupdate`: every UPDATE in db/tables/ says what it sets, `updated_at` included, the
    # same on both backends (the SQLite path does not apply SQLAlchemy's Python-side defaults).
    return mapped_column(DateTimeUTC, nullable=False, default=utcnow)


# A run is in flight while pending or running. The indexes that find such runs hold only them
# (partial indexes), so that the status changes of a run's life touch a few small, hot pages
# instead of places in indexes over every run ever made.
IN_FLIGHT = ("pending", "running")
IN_FLIGHT_SQL = "status IN ({})".format(", ".join(f"'{value}'" for value in IN_FLIGHT))
NOT_IDLE_SQL = "status != 'idle'"


# The event that closes a run's stream in `run_events`.
END_OF_STREAM = "__end__"
# `Table.info` key of the tables that exist only on PostgreSQL (`create_all` on SQLite skips them).
POSTGRESQL_ONLY = "postgresql_only"


def in_flight(status: Any) -> Any:
    """`status IN ('pending', 'running')` with the values written inline, as the partial indexes
    say it: SQLite uses a partial index only for a query whose WHERE has its condition as a term
    (it matches terms, it does not reason: `status = ?` alone does not qualify). Queries that want
    one status add it beside this."""
    return status.in_([literal_column(f"'{value}'") for value in IN_FLIGHT])


def not_idle(status: Any) -> Any:
    """`status != 'idle'`, the condition of the threads' partial status index (see `in_flight`)."""
    return status != literal_column("'idle'")


def _where(condition: str) -> dict[str, Any]:
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


def _gin(name: str, column: str) -> Index:
    """A GIN index for JSONB containment searches; PostgreSQL only (SQLite has no use for it)."""
    return Index(name, column, postgresql_using="gin").ddl_if(dialect="postgresql")


class Assistant(Base):
    __tablename__ = "assistants"

    assistant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = _json_object()
    context: Mapped[dict[str, Any]] = _json_object()
    metadata_: Mapped[dict[str, Any]] = _json_object("metadata")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (
        Index("ix_assistants_created_at", "created_at"),
        Index("ix_assistants_updated_at", "updated_at"),
        _gin("ix_assistants_metadata_gin", "metadata"),
    )


class AssistantVersion(Base):
    """Every create or update of an assistant adds a row; the assistant row mirrors the latest."""

    __tablename__ = "assistant_versions"

    assistant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assistants.assistant_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = _json_object()
    context: Mapped[dict[str, Any]] = _json_object()
    metadata_: Mapped[dict[str, Any]] = _json_object("metadata")
    created_at: Mapped[datetime] = _created_at()


class Thread(Base):
    __tablename__ = "threads"

    thread_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()
    state_updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    metadata_: Mapped[dict[str, Any]] = _json_object("metadata")
    config: Mapped[dict[str, Any]] = _json_object()
    # idle | busy | interrupted | error
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="idle")
    # The latest state's values and pending interrupts, copied here after each run so that
    # thread search can filter on them without reading checkpoints.
    values: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    interrupts: Mapped[dict[str, Any]] = _json_object()
    # Thread TTL: minutes after the last update, and what happens then (delete | keep_latest).
    ttl_minutes: Mapped[float | None] = mapped_column()
    ttl_strategy: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, index=True)

    __table_args__ = (
        Index("ix_threads_created_at", "created_at"),
        Index("ix_threads_updated_at", "updated_at"),
        # Every run makes its thread busy and then idle again; most threads are idle, and a search
        # for them reads the threads in order of a time index anyway.
        Index("ix_threads_status_not_idle", "status", **_where(NOT_IDLE_SQL)),
        _gin("ix_threads_metadata_gin", "metadata"),
    )


class Run(Base):
    __tablename__ = "runs"

    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("threads.thread_id", ondelete="CASCADE"), nullable=False)
    assistant_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()
    # pending | running | success | error | timeout | interrupted
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    metadata_: Mapped[dict[str, Any]] = _json_object("metadata")
    # Everything the run was created with (input, command, config, context, stream modes...).
    kwargs: Mapped[dict[str, Any]] = _json_object()
    multitask_strategy: Mapped[str | None] = mapped_column(String(16))
    # Executor bookkeeping: retries after a crash, timing, and the error of a failed run.
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    ended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    # The process executing a running run, and until when its claim holds unless renewed
    # (domain/runs/queue.py); a cancel asked of a run running in another process waits here.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    cancel_requested: Mapped[str | None] = mapped_column(String(16))
    # The W3C `traceparent` of the request that created the run, which the run's own trace links
    # to when it executes, here or in another process (telemetry/tracing.py); None untraced.
    traceparent: Mapped[str | None] = mapped_column(String(256))

    __table_args__ = (
        Index("ix_runs_thread_id_created_at", "thread_id", "created_at"),
        # The runs in flight on a thread: asked at every run's creation and end.
        Index("ix_runs_in_flight_thread_id", "thread_id", **_where(IN_FLIGHT_SQL)),
        # The queue: the oldest pending run, and the threads running one.
        Index("ix_runs_in_flight_status_created_at", "status", "created_at", **_where(IN_FLIGHT_SQL)),
    )


class RunEvent(Base):
    """A run's stream events, for readers in other processes than the one executing the run
    (PostgreSQL only: on SQLite one process owns the file and streams from memory). `seq` counts
    from 1 per run, across attempts; the event `END_OF_STREAM` closes a run's stream, and its
    time starts the retention window after which the run's events are deleted."""

    __tablename__ = "run_events"

    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = _created_at()

    __table_args__ = (
        Index("ix_run_events_ended", "created_at", **_where(f"event = '{END_OF_STREAM}'")),
        {"info": {POSTGRESQL_ONLY: True}},
    )


class Cron(Base):
    __tablename__ = "crons"

    cron_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    assistant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assistants.assistant_id", ondelete="CASCADE"), nullable=False, index=True
    )
    thread_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("threads.thread_id", ondelete="CASCADE"), index=True)
    schedule: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    end_time: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    # The run payload each firing creates (input, config, context, ...).
    payload: Mapped[dict[str, Any]] = _json_object()
    metadata_: Mapped[dict[str, Any]] = _json_object("metadata")
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    on_run_completed: Mapped[str | None] = mapped_column(String(16))
    next_run_date: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (Index("ix_crons_enabled_next_run_date", "enabled", "next_run_date"),)


# A delivery is outstanding while it waits for an attempt (`pending`) or one is under way
# (`sending`); its index holds only those rows, as `in_flight` does for runs.
OUTSTANDING = ("pending", "sending")
OUTSTANDING_SQL = "status IN ({})".format(", ".join(f"'{value}'" for value in OUTSTANDING))


def outstanding(status: Any) -> Any:
    """`status IN ('pending', 'sending')`, spelled as the partial index says it (see `in_flight`)."""
    return status.in_([literal_column(f"'{value}'") for value in OUTSTANDING])


class WebhookDelivery(Base):
    """A run's webhook: written in the transaction that settles the run (the outbox), sent by
    any process (domain/webhooks/), kept with its attempts until the retention window ends."""

    __tablename__ = "webhook_deliveries"

    # A run has one webhook, so its delivery is keyed by the run's id, which every attempt also
    # sends as `webhook-id` (receivers drop repeats by it). No foreign key: the delivery outlives
    # its run (a stateless run's thread, runs included, goes when the run ends; the webhook still
    # has to go out). Keyed so, a delivery costs one random-key index page fewer per run than with
    # an id of its own and an index on `run_id`: the outbox is written with every run's end.
    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    # The body as langgraph-api sends it, but `webhook_sent_at` (set at each attempt).
    payload: Mapped[dict[str, Any]] = _json_object()
    # pending | sending | delivered | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    # Attempts started so far. A claim adds one, and an attempt's result is written only where the
    # count is still its own: a process whose lease ran out cannot overwrite a later attempt.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # pending: when the next attempt is due; sending: when the lease of the attempt under way
    # ends (then any process may claim it again); null once delivered or failed.
    due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    # One object per attempt: its number, start, duration, status code, error, start of the answer.
    history: Mapped[list[Any]] = mapped_column(JsonB, nullable=False, default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (
        # The deliverers' claim: the outstanding deliveries that are due.
        Index("ix_webhook_deliveries_outstanding_due_at", "due_at", **_where(OUTSTANDING_SQL)),
        # Retention: finished deliveries by age.
        Index("ix_webhook_deliveries_created_at", "created_at"),
    )


def table(model: type[Base]) -> Table:
    """A model's table, as Core statements take it (`__table__` is typed as any FROM clause)."""
    model_table = model.__table__
    assert isinstance(model_table, Table)
    return model_table
