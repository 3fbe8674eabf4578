"""Request and response bodies of the runs routes (langgraph-api's
`models/run.py`; langgraph-sdk's `schema.Run`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from aegra.domain.schemas import JSONObject, Request, Seconds

# v1 stream modes; `tools` and `lifecycle` belong to the v2 protocol and are refused here.
StreamModeName = Literal[
    "values", "updates", "messages", "messages-tuple", "custom", "events", "debug", "tasks", "checkpoints"
]
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
RunField = Literal[
    "run_id", "thread_id", "assistant_id", "created_at", "updated_at", "status", "metadata", "kwargs",
    "multitask_strategy", "langsmith_session_name",
]  # fmt: skip


class CommandBody(Request):
    update: Any = None
    resume: Any = None
    goto: Any = None


class CheckpointBody(Request):
    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    checkpoint_map: JSONObject | None = None


class RunCreate(Request):
    """Both stateful (`/threads/{id}/runs...`) and stateless (`/runs...`) creation; the service
    refuses the fields that do not apply to the route's kind."""

    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    metadata: JSONObject | None = None
    config: JSONObject | None = None
    context: JSONObject | None = None
    webhook: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: StreamModeName | list[StreamModeName] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    feedback_keys: list[str] | None = None
    multitask_strategy: MultitaskStrategy | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    after_seconds: Seconds | None = None
    checkpoint_during: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint: CheckpointBody | None = None
    checkpoint_id: str | None = None
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] | None = None
    strict_resume: bool | None = None
    langsmith_tracer: JSONObject | None = None

    def stream_modes(self) -> list[str]:
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)
        return list(dict.fromkeys(modes)) or ["values"]


class Run(msgspec.Struct):
    run_id: uuid.UUID
    thread_id: uuid.UUID
    assistant_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    status: RunStatus
    metadata: JSONObject
    kwargs: JSONObject
    multitask_strategy: MultitaskStrategy | None
    langsmith_session_name: str | None = None


class BulkCancel(Request):
    status: Literal["pending", "running", "all"] | None = None
    thread_id: str | None = None
    run_ids: list[str] | None = None
