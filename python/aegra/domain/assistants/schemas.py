"""Request and response bodies of `/assistants` (langgraph-sdk's `schema.Assistant`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from aegra.domain.schemas import JSONObject, Limit, Offset, Request, SortOrder

AssistantField = Literal[
    "assistant_id", "graph_id", "name", "description", "config", "context", "created_at", "updated_at",
    "metadata", "version",
]  # fmt: skip
AssistantSortField = Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"]


class AssistantCreate(Request):
    graph_id: str
    assistant_id: str | None = None
    config: JSONObject | None = None
    context: JSONObject | None = None
    metadata: JSONObject | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(Request):
    graph_id: str | None = None
    config: JSONObject | None = None
    context: JSONObject | None = None
    metadata: JSONObject | None = None
    name: str | None = None
    description: str | None = None


class AssistantSearch(Request):
    metadata: JSONObject | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: AssistantSortField | None = None
    sort_order: SortOrder | None = None
    select: list[AssistantField] | None = None


class AssistantCount(Request):
    metadata: JSONObject | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersionsSearch(Request):
    metadata: JSONObject | None = None
    limit: Limit = 10
    offset: Offset = 0


class AssistantSetLatest(Request):
    version: int


class Assistant(msgspec.Struct):
    assistant_id: uuid.UUID
    graph_id: str
    config: JSONObject
    context: JSONObject
    created_at: datetime
    updated_at: datetime
    metadata: JSONObject
    version: int
    name: str
    description: str | None


class AssistantVersion(msgspec.Struct):
    assistant_id: uuid.UUID
    version: int
    graph_id: str
    config: JSONObject
    context: JSONObject
    metadata: JSONObject
    created_at: datetime
    name: str
    description: str | None
