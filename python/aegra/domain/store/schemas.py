"""Request and response bodies of `/store` (langgraph-api's openapi `Store*Request`, `Item`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from aegra.domain.schemas import JSONObject, Limit, Offset, PositiveMinutes, Request

# Minutes; a TTL of zero or less would expire the item before anyone could read it.
TTLMinutes = PositiveMinutes
Depth = Annotated[int, msgspec.Meta(ge=1)]


class StorePut(Request):
    namespace: list[str]
    key: str
    value: JSONObject
    # false = don't embed this item, a list = embed these field paths, null = the config's fields.
    # A plain `bool` because msgspec cannot express `Literal[False]`; the service refuses `true`.
    index: bool | list[str] | None = None
    ttl: TTLMinutes | None = None


class StoreDelete(Request):
    key: str
    namespace: list[str] = msgspec.field(default_factory=list)


class StoreSearch(Request):
    namespace_prefix: list[str] | None = None
    filter: JSONObject | None = None
    limit: Limit = 10
    offset: Offset = 0
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreListNamespaces(Request):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: Depth | None = None
    limit: Limit = 100
    offset: Offset = 0


class StoreItem(msgspec.Struct):
    namespace: list[str]
    key: str
    value: JSONObject
    created_at: datetime
    updated_at: datetime


class StoreSearchItem(StoreItem):
    # null when the item was not ranked by a query (listing mode, or an item without vectors).
    score: float | None = None


class SearchItemsResponse(msgspec.Struct):
    items: list[StoreSearchItem]


class ListNamespacesResponse(msgspec.Struct):
    namespaces: list[list[str]]
