"""Request and response bodies of the crons routes (langgraph-api's `/runs/crons` and `/threads/{thread_id}/runs/crons`;
langgraph-sdk's `schema.Cron`).

The run a cron creates at each firing is described by the same fields as a run request
(`CronRunFields`); they are stored as the cron's `payload`, with its `assistant_id`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from aegra.domain.runs.schemas import MultitaskStrategy, StreamModeName
from aegra.domain.schemas import JSONObject, Limit, Offset, Request, SortOrder

OnRunCompleted = Literal["delete", "keep"]
CronSortField = Literal["cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"]
CronField = Literal[
    "cron_id", "assistant_id", "thread_id", "on_run_completed", "end_time", "schedule", "timezone", "created_at",
    "updated_at", "user_id", "payload", "next_run_date", "metadata", "enabled",
]  # fmt: skip


class CronRunFields(Request):
    """The run each firing creates. `metadata` is the cron's own (and its runs')."""

    input: Any = None
    metadata: JSONObject | None = None
    config: JSONObject | None = None
    context: JSONObject | None = None
    checkpoint_during: bool | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = None
    multitask_strategy: MultitaskStrategy | None = None
    stream_mode: StreamModeName | list[StreamModeName] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None

    def run_fields(self) -> dict[str, Any]:
        """The fields given, as stored in `payload` (metadata has a column of its own)."""
        return {
            name: getattr(self, name)
            for name in CronRunFields.__struct_fields__
            if name != "metadata" and getattr(self, name) is not None
        }


class CronCreate(CronRunFields, kw_only=True):
    """`POST /runs/crons` and `POST /threads/{thread_id}/runs/crons`; `on_run_completed` is the former's."""

    assistant_id: str
    schedule: str
    timezone: str | None = None
    end_time: datetime | None = None
    enabled: bool = True
    on_run_completed: OnRunCompleted | None = None


class CronPatch(CronRunFields, kw_only=True):
    """Only what is given changes; `end_time: null` clears the end time (absent leaves it)."""

    schedule: str | None = None
    timezone: str | None = None
    end_time: datetime | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | None = None
    on_run_completed: OnRunCompleted | None = None

    def is_empty(self) -> bool:
        return all(
            getattr(self, name) is (msgspec.UNSET if name == "end_time" else None) for name in self.__struct_fields__
        )


class CronSearch(Request):
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: JSONObject | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: CronSortField | None = None
    sort_order: SortOrder | None = None
    select: list[CronField] | None = None


class CronCount(Request):
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: JSONObject | None = None


class Cron(msgspec.Struct):
    cron_id: uuid.UUID
    assistant_id: uuid.UUID
    thread_id: uuid.UUID | None
    on_run_completed: OnRunCompleted | None
    end_time: datetime | None
    schedule: str
    timezone: str | None
    created_at: datetime
    updated_at: datetime
    payload: JSONObject
    user_id: str | None
    next_run_date: datetime | None
    metadata: JSONObject
    enabled: bool
