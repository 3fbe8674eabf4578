"""`/store` routes. Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Response, delete, get, post, put
from litestar.datastructures import ResponseHeader

from aegra.auth import RequestAuth
from aegra.domain.store import schemas
from aegra.domain.store.services import UNINDEXED_HEADER, StoreService

UNINDEXED = ResponseHeader(
    name=UNINDEXED_HEADER,
    description="With `query`: how many items under the prefix are saved but wait for their vectors "
    "(the embedder was unavailable); they follow the ranked items, unscored",
    documentation_only=True,
    required=False,
)


class StoreController(Controller):
    path = "/store"
    tags = ["Store"]

    @put("/items", status_code=204, summary="Store or update an item")
    async def put_item(self, store: StoreService, auth: RequestAuth, data: schemas.StorePut) -> None:
        await store.put(data, auth=auth)

    @get("/items", summary="Get an item (null when there is none)")
    async def get_item(
        self,
        store: StoreService,
        auth: RequestAuth,
        namespace: str = "",
        key: str | None = None,
        refresh_ttl: bool | None = None,
    ) -> Response[Any]:
        item = await store.get(namespace, key, refresh_ttl, auth=auth)
        # A missing item is a 200 with a JSON `null` body, as langgraph-api answers (not a 404).
        return Response(item if item is not None else b"null", media_type=MediaType.JSON)

    @delete("/items", status_code=204, summary="Delete an item")
    async def delete_item(self, store: StoreService, auth: RequestAuth, data: schemas.StoreDelete) -> None:
        await store.delete(data, auth=auth)

    @post(
        "/items/search",
        status_code=200,
        summary="Search or list items under a namespace prefix",
        response_headers=[UNINDEXED],
    )
    async def search_items(
        self, store: StoreService, auth: RequestAuth, data: schemas.StoreSearch
    ) -> Response[schemas.SearchItemsResponse]:
        found, headers = await store.search(data, auth=auth)
        return Response(found, headers=headers)

    @post("/namespaces", status_code=200, summary="List namespaces")
    async def list_namespaces(
        self, store: StoreService, auth: RequestAuth, data: schemas.StoreListNamespaces
    ) -> schemas.ListNamespacesResponse:
        return await store.list_namespaces(data, auth=auth)
