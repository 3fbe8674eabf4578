"""The rules of the store API over LangGraph's `BaseStore` (langgraph-api's `/store` routes).

The store itself (`AsyncSqliteStore` or `AsyncPostgresStore`) keeps LangGraph's semantics; this
layer adds what an HTTP caller needs on top: namespace labels checked as langgraph-api does
(non-empty, no `.`, since GET joins them with dots), filters checked before any SQL runs on either
backend, and a query refused with a reason when no index is configured rather than silently
answered as a plain listing. A semantic search says how many items under its prefix are saved but
still wait for their vectors (the embedder was unavailable when they were put): the
`X-Aegra-Unindexed` header, and a log line; it never fails because the embedder is down (the
stores answer unscored then).

Auth (`@auth.on.store`): the handler sees each operation's value and may rewrite its namespace
(e.g. prefix it with the user's identity, so users never share items); a filter it returns is
ANDed into searches, must match an item for `get`, `delete` and `put` (overwriting) to see it, and
hides namespaces holding no item it matches from `list_namespaces`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, overload

from langgraph.store.base import NOT_PROVIDED, BaseStore, Item, SearchItem

from aegra.auth import Filter, RequestAuth
from aegra.domain.schemas import check_limit
from aegra.domain.store import schemas
from aegra.errors import BadRequest, Conflict, Invalid
from aegra.store import filters

logger = logging.getLogger(__name__)

NO_INDEX = (
    "Semantic search (`query`) needs an embedding index, and this server has none: add "
    '`"store": {"index": {"embed": ..., "dims": ...}}` to the config file (aegra.json), '
    "or search without `query` (filters and namespace prefixes work without an index)"
)


NAMESPACE_BATCH = 500  # namespaces listed at a time when an auth filter must check each
UNINDEXED_HEADER = "X-Aegra-Unindexed"
UNINDEXED_LOG_SECONDS = 60.0  # the log line about waiting items, at most once a minute


def check_namespace(labels: Sequence[str], what: str = "Namespace") -> tuple[str, ...]:
    for label in labels:
        if not label or "." in label:
            raise Invalid(f"{what} label {label!r} must be a non-empty string without periods")
    return tuple(labels)


class StoreService:
    def __init__(self, store: BaseStore, *, max_search_limit: int = 1000) -> None:
        self.store = store
        self.max_search_limit = max_search_limit
        self._unindexed_logged_at = -UNINDEXED_LOG_SECONDS

    @property
    def has_index(self) -> bool:
        # Both AsyncSqliteStore and AsyncPostgresStore keep the index config here (None without one).
        return bool(getattr(self.store, "index_config", None))

    async def put(self, data: schemas.StorePut, *, auth: RequestAuth) -> None:
        if data.index is True:
            raise Invalid("index must be false, a list of field paths, or null")
        value: dict[str, Any] = {
            "namespace": check_namespace(data.namespace),
            "key": data.key,
            "value": data.value,
            "index": data.index,
        }
        allowed = await auth.authorize("store", "put", value)
        namespace = check_namespace(value["namespace"])  # as the handler left it
        if allowed and (existing := await self.store.aget(namespace, data.key)) and not _matches(existing, allowed):
            # Someone else's item: a put may not overwrite what the caller's filter hides (as for ids
            # taken by another user's thread, the answer is a conflict, not the item).
            raise Conflict(f"Item {data.key!r} already exists in namespace {list(namespace)}")
        # An absent ttl lets `store.ttl.default_ttl` apply; the SDK never sends an explicit null.
        ttl = NOT_PROVIDED if data.ttl is None else data.ttl
        # An embedder that is unavailable does not fail the put: the item is saved waiting for its vectors.
        await self.store.aput(namespace, data.key, value["value"], index=value["index"], ttl=ttl)

    async def get(
        self, namespace: str, key: str | None, refresh_ttl: bool | None, *, auth: RequestAuth
    ) -> schemas.StoreItem | None:
        if not key:
            raise BadRequest("Key is required")
        value: dict[str, Any] = {"namespace": check_namespace(namespace.split(".")), "key": key}
        allowed = await auth.authorize("store", "get", value)
        item = await self.store.aget(check_namespace(value["namespace"]), key, refresh_ttl=refresh_ttl)
        return None if item is None or not _matches(item, allowed) else _wire(item)

    async def delete(self, data: schemas.StoreDelete, *, auth: RequestAuth) -> None:
        value: dict[str, Any] = {"namespace": check_namespace(data.namespace), "key": data.key}
        allowed = await auth.authorize("store", "delete", value)
        namespace = check_namespace(value["namespace"])
        if allowed and not _matches(await self.store.aget(namespace, data.key), allowed):
            return  # as deleting a missing item: nothing happens, nothing is revealed
        await self.store.adelete(namespace, data.key)

    async def search(
        self, data: schemas.StoreSearch, *, auth: RequestAuth
    ) -> tuple[schemas.SearchItemsResponse, dict[str, str]]:
        """The page of items, and the response headers (`X-Aegra-Unindexed` for a semantic search)."""
        check_limit(data.limit, self.max_search_limit)
        value: dict[str, Any] = {
            "namespace": check_namespace(data.namespace_prefix or (), "Namespace prefix"),
            "filter": data.filter,
            "limit": data.limit,
            "offset": data.offset,
            "query": data.query,
        }
        allowed = await auth.authorize("store", "search", value)
        prefix = check_namespace(value["namespace"] or (), "Namespace prefix")
        search_filter = both(value["filter"], allowed)
        try:
            filters.validate(search_filter)
        except ValueError as exc:
            raise BadRequest(f"Invalid filter: {exc}") from exc
        if data.query and not self.has_index:
            raise BadRequest(NO_INDEX)
        found = await self.store.asearch(
            prefix,
            query=data.query,
            filter=search_filter,
            limit=data.limit,
            offset=data.offset,
            refresh_ttl=data.refresh_ttl,
        )
        headers = {UNINDEXED_HEADER: str(await self._unindexed(prefix))} if data.query else {}
        return schemas.SearchItemsResponse(items=[_wire(item) for item in found]), headers

    async def _unindexed(self, prefix: tuple[str, ...]) -> int:
        """How many items under `prefix` wait for their vectors (both stores count them)."""
        count_waiting = getattr(self.store, "acount_waiting", None)
        waiting = 0 if count_waiting is None else int(await count_waiting(prefix))
        if waiting and time.monotonic() - self._unindexed_logged_at >= UNINDEXED_LOG_SECONDS:
            self._unindexed_logged_at = time.monotonic()
            logger.info(
                "store search under %s: %d item(s) are not indexed yet (waiting for the embedder); "
                "they follow the ranked items, unscored",
                list(prefix),
                waiting,
            )
        return waiting

    async def list_namespaces(
        self, data: schemas.StoreListNamespaces, *, auth: RequestAuth
    ) -> schemas.ListNamespacesResponse:
        check_limit(data.limit, self.max_search_limit)
        value: dict[str, Any] = {
            "namespace": tuple(data.prefix) if data.prefix else None,
            "suffix": data.suffix,
            "max_depth": data.max_depth,
            "limit": data.limit,
            "offset": data.offset,
        }
        allowed = await auth.authorize("store", "list_namespaces", value)
        prefix = check_namespace(value["namespace"], "Namespace prefix") if value["namespace"] else None
        suffix = check_namespace(value["suffix"], "Namespace suffix") if value["suffix"] else None
        if not allowed:
            found = await self.store.alist_namespaces(
                prefix=prefix, suffix=suffix, max_depth=data.max_depth, limit=data.limit, offset=data.offset
            )
            return schemas.ListNamespacesResponse(namespaces=[list(namespace) for namespace in found])
        # A filter: only namespaces holding an item it lets through, so other users' namespace
        # names stay hidden. The store cannot filter namespaces, so they are checked one by one.
        visible: list[list[str]] = []
        offset = 0
        while len(visible) < data.offset + data.limit:
            batch = await self.store.alist_namespaces(
                prefix=prefix, suffix=suffix, max_depth=data.max_depth, limit=NAMESPACE_BATCH, offset=offset
            )
            for namespace in batch:
                if await self.store.asearch(namespace, filter=allowed, limit=1):
                    visible.append(list(namespace))
            if len(batch) < NAMESPACE_BATCH:
                break
            offset += NAMESPACE_BATCH
        return schemas.ListNamespacesResponse(namespaces=visible[data.offset : data.offset + data.limit])


def both(requested: Filter | None, allowed: Filter | None) -> Filter | None:
    """The AND of two store filters, as one filter (the store's language has no `$and`).

    Keys of one side only are kept as they are; a key on both sides keeps a condition equal on
    both, or merges two operator dicts with distinct operators. Anything else cannot be expressed
    as one condition, so it matches nothing: refusing is the safe side of an auth filter.
    """
    if not requested or not allowed:
        return requested or allowed
    merged: dict[str, Any] = dict(requested)
    for key, condition in allowed.items():
        mine: Any = merged.get(key, condition)
        if mine == condition:
            merged[key] = condition
        elif _operators(mine) and _operators(condition) and not set(mine) & set(condition):
            merged[key] = {**mine, **condition}
        else:
            merged[key] = {"$eq": condition, "$ne": condition}  # contradictory: no item matches
    return merged


def _operators(condition: Any) -> bool:
    return isinstance(condition, dict) and bool(condition) and all(k.startswith("$") for k in condition)


def _matches(item: Item | None, allowed: Filter | None) -> bool:
    return item is not None and (not allowed or filters.matches(item.value, allowed))


@overload
def _wire(item: SearchItem) -> schemas.StoreSearchItem: ...
@overload
def _wire(item: Item) -> schemas.StoreItem: ...
def _wire(item: Item) -> schemas.StoreItem:
    """The wire shape of a store item; a `SearchItem` keeps its score."""
    # Positional (the fields' order in schemas.py): a page's items are built here one by one.
    namespace = list(item.namespace)
    if isinstance(item, SearchItem):
        return schemas.StoreSearchItem(namespace, item.key, item.value, item.created_at, item.updated_at, item.score)
    return schemas.StoreItem(namespace, item.key, item.value, item.created_at, item.updated_at)
