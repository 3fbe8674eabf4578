"""The rules of the store API over LangGraph's `BaseStore` (api-surface.md §1.7, §2.9).

The store itself (`AsyncSqliteStore` or `AsyncPostgresStore`) keeps LangGraph's semantics; this
layer adds what an HTTP caller needs on top: namespace labels checked as langgraph-api does
(non-empty, no `.`, since GET joins them with dots), filters checked before any SQL runs on either
backend, and a query refused with a reason when no index is configured rather than silently
answered as a plain listing.
"""

from __future__ import annotations

from collections.abc import Sequence

from langgraph.store.base import NOT_PROVIDED, BaseStore, Item, SearchItem

from aegra.domain.schemas import check_limit
from aegra.domain.store import schemas
from aegra.errors import AegraError, BadRequest, Invalid
from aegra.store import filters
from aegra.store.embeddings import EmbeddingUnavailableError

NO_INDEX = (
    "Semantic search (`query`) needs an embedding index, and this server has none: add "
    '`"store": {"index": {"embed": ..., "dims": ...}}` to the config file (aegra.json), '
    "or search without `query` (filters and namespace prefixes work without an index)"
)


class EmbedderUnavailable(AegraError):
    """The configured embedding model cannot be loaded or reached: a server-side problem (503)."""

    status_code = 503


def check_namespace(labels: Sequence[str], what: str = "Namespace") -> tuple[str, ...]:
    for label in labels:
        if not label or "." in label:
            raise Invalid(f"{what} label {label!r} must be a non-empty string without periods")
    return tuple(labels)


class StoreService:
    def __init__(self, store: BaseStore, *, max_search_limit: int = 1000) -> None:
        self.store = store
        self.max_search_limit = max_search_limit

    @property
    def has_index(self) -> bool:
        # Both AsyncSqliteStore and AsyncPostgresStore keep the index config here (None without one).
        return bool(getattr(self.store, "index_config", None))

    async def put(self, data: schemas.StorePut) -> None:
        if data.index is True:
            raise Invalid("index must be false, a list of field paths, or null")
        namespace = check_namespace(data.namespace)
        # An absent ttl lets `store.ttl.default_ttl` apply; the SDK never sends an explicit null.
        ttl = NOT_PROVIDED if data.ttl is None else data.ttl
        try:
            await self.store.aput(namespace, data.key, data.value, index=data.index, ttl=ttl)  # type: ignore[arg-type]
        except EmbeddingUnavailableError as exc:
            raise EmbedderUnavailable(str(exc)) from exc

    async def get(self, namespace: str, key: str | None, refresh_ttl: bool | None) -> schemas.StoreItem | None:
        labels = check_namespace(namespace.split("."))
        if not key:
            raise BadRequest("Key is required")
        item = await self.store.aget(labels, key, refresh_ttl=refresh_ttl)
        return None if item is None else _item(item)

    async def delete(self, data: schemas.StoreDelete) -> None:
        await self.store.adelete(check_namespace(data.namespace), data.key)

    async def search(self, data: schemas.StoreSearch) -> schemas.SearchItemsResponse:
        prefix = check_namespace(data.namespace_prefix or (), "Namespace prefix")
        check_limit(data.limit, self.max_search_limit)
        try:
            filters.validate(data.filter)
        except ValueError as exc:
            raise BadRequest(f"Invalid filter: {exc}") from exc
        if data.query and not self.has_index:
            raise BadRequest(NO_INDEX)
        try:
            found = await self.store.asearch(
                prefix,
                query=data.query,
                filter=data.filter,
                limit=data.limit,
                offset=data.offset,
                refresh_ttl=data.refresh_ttl,
            )
        except EmbeddingUnavailableError as exc:
            raise EmbedderUnavailable(str(exc)) from exc
        return schemas.SearchItemsResponse(items=[_search_item(item) for item in found])

    async def list_namespaces(self, data: schemas.StoreListNamespaces) -> schemas.ListNamespacesResponse:
        prefix = check_namespace(data.prefix, "Namespace prefix") if data.prefix else None
        suffix = check_namespace(data.suffix, "Namespace suffix") if data.suffix else None
        check_limit(data.limit, self.max_search_limit)
        found = await self.store.alist_namespaces(
            prefix=prefix, suffix=suffix, max_depth=data.max_depth, limit=data.limit, offset=data.offset
        )
        return schemas.ListNamespacesResponse(namespaces=[list(namespace) for namespace in found])


def _item(item: Item) -> schemas.StoreItem:
    return schemas.StoreItem(
        namespace=list(item.namespace),
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _search_item(item: SearchItem) -> schemas.StoreSearchItem:
    return schemas.StoreSearchItem(
        namespace=list(item.namespace),
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=item.score,
    )
