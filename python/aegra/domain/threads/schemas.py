"""Request and response bodies of `/threads` and thread state (langgraph-sdk's
`schema.Thread`, `ThreadState`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from aegra.domain.schemas import JSONObject, Limit, Offset, PositiveMinutes, Request, SortOrder
from aegra.errors import Invalid

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
ThreadField = Literal[
    "thread_id", "created_at", "updated_at", "state_updated_at", "metadata", "config", "status", "values",
    "interrupts",
]  # fmt: skip
ThreadSortField = Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"]
TTLStrategy = Literal["delete", "keep_latest"]
# TTLs are minutes; a non-positive one would expire the thread before anyone could use it.
Minutes = PositiveMinutes
# At most ten extracted paths per search, as langgraph-api allows.
Extract = Annotated[dict[str, str], msgspec.Meta(max_length=10)]


class TTL(Request):
    ttl: Minutes
    strategy: TTLStrategy = "delete"


class CheckpointConfig(Request):
    """Where in a thread's checkpoints: the `checkpoint` the SDK sends and gets back."""

    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    checkpoint_map: JSONObject | None = None

    def configurable(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not None}


class Send(Request):
    node: str
    input: Any = None


class Command(Request):
    update: JSONObject | list[Any] | None = None
    resume: Any = None
    goto: Send | list[Send | str] | str | None = None


class SuperstepUpdate(Request):
    as_node: str
    values: JSONObject | list[Any] | None = None
    command: Command | None = None


class Superstep(Request):
    updates: list[SuperstepUpdate]


class ThreadCreate(Request):
    thread_id: str | None = None
    metadata: JSONObject | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: Minutes | TTL | None = None
    supersteps: list[Superstep] | None = None


class ThreadPatch(Request):
    metadata: JSONObject | None = None
    ttl: Minutes | TTL | None = None


class ThreadSearch(Request):
    ids: list[str] | None = None
    metadata: JSONObject | None = None
    values: JSONObject | None = None
    status: ThreadStatus | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: ThreadSortField | None = None
    sort_order: SortOrder | None = None
    select: list[ThreadField] | None = None
    extract: Extract | None = None


class ThreadCount(Request):
    metadata: JSONObject | None = None
    values: JSONObject | None = None
    status: ThreadStatus | None = None


class ThreadPrune(Request):
    thread_ids: list[str]
    strategy: TTLStrategy = "delete"


class StateAtCheckpoint(Request):
    checkpoint: CheckpointConfig
    subgraphs: bool = False
    select: list[str] | None = None


class StateUpdate(Request):
    values: JSONObject | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = None


class HistorySearch(Request):
    limit: Limit = 1
    # A checkpoint id (the Python SDK's `str`), a `Checkpoint` (its other form), or a config
    # `{"configurable": {...}}` (the JS SDK's form, the one langgraph-api reads): see `before_config`.
    before: str | JSONObject | None = None
    metadata: JSONObject | None = None
    checkpoint: CheckpointConfig | None = None
    select: list[str] | None = None


def before_config(before: str | JSONObject | None) -> dict[str, Any] | None:
    """The `before` of a history search as the config LangGraph's `aget_state_history` takes."""
    if before is None:
        return None
    if isinstance(before, str):
        return {"configurable": {"checkpoint_id": before}}
    fields = before.get("configurable", before) if set(before) <= {"configurable"} else before
    try:
        checkpoint = msgspec.convert(fields, CheckpointConfig)
    except msgspec.ValidationError as exc:
        raise Invalid(f"Invalid `before`: {exc}") from None
    return {"configurable": checkpoint.configurable()}


class ThreadTTL(msgspec.Struct):
    strategy: str
    ttl_minutes: float
    expires_at: datetime | None


class Thread(msgspec.Struct):
    thread_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime | None
    metadata: JSONObject
    config: JSONObject
    status: str
    values: JSONObject | None
    interrupts: JSONObject
    # Only with `GET /threads/{id}?include=ttl`, and only when the thread has a TTL.
    ttl: ThreadTTL | msgspec.UnsetType = msgspec.UNSET


class PruneResult(msgspec.Struct):
    pruned_count: int


class StateUpdateResult(msgspec.Struct):
    checkpoint: JSONObject
    # Deprecated copies langgraph-api still sends; the JS SDK's `updateState` reads `configurable`.
    configurable: JSONObject
    checkpoint_id: str
