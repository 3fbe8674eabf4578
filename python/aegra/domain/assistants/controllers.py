"""`/assistants` routes. Thin: parse, call the service, shape the response."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Response, delete, get, patch, post

from aegra.auth import RequestAuth
from aegra.domain.assistants import schemas
from aegra.domain.assistants.services import AssistantService
from aegra.errors import Invalid
from aegra.graphs import graph_json, graph_schemas, subgraph_schemas


def parse_xray(xray: str | None) -> bool | int:
    """`true`/`false`, or a positive depth (langgraph-api's rules)."""
    if not xray or xray in ("false", "False"):
        return False
    if xray in ("true", "True"):
        return True
    try:
        depth = int(xray)
    except ValueError:
        raise Invalid("Invalid xray value") from None
    if depth <= 0:
        raise Invalid("Invalid xray value")
    return depth


class AssistantController(Controller):
    path = "/assistants"
    tags = ["Assistants"]

    @post("/", status_code=200, summary="Create an assistant")
    async def create(
        self, assistants: AssistantService, auth: RequestAuth, data: schemas.AssistantCreate
    ) -> schemas.Assistant:
        return await assistants.create(data, auth=auth)

    @post("/search", status_code=200, summary="Search assistants")
    async def search(
        self, assistants: AssistantService, auth: RequestAuth, data: schemas.AssistantSearch
    ) -> Response[Any]:
        page = await assistants.search(data, auth=auth)
        return Response(page.items, headers=page.headers())

    @post("/count", status_code=200, summary="Count assistants")
    async def count(self, assistants: AssistantService, auth: RequestAuth, data: schemas.AssistantCount) -> int:
        return await assistants.count(data, auth=auth)

    @get("/{assistant_id:str}", summary="Get an assistant")
    async def get_assistant(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str
    ) -> schemas.Assistant:
        return await assistants.get(assistant_id, auth=auth)

    @patch("/{assistant_id:str}", summary="Update an assistant (adds a version)")
    async def update(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str, data: schemas.AssistantPatch
    ) -> schemas.Assistant:
        return await assistants.patch(assistant_id, data, auth=auth)

    @delete("/{assistant_id:str}", status_code=204, summary="Delete an assistant")
    async def remove(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str, delete_threads: bool = False
    ) -> None:
        await assistants.delete(assistant_id, auth=auth, delete_threads=delete_threads)

    @post("/{assistant_id:str}/versions", status_code=200, summary="List an assistant's versions")
    async def get_versions(
        self,
        assistants: AssistantService,
        auth: RequestAuth,
        assistant_id: str,
        data: schemas.AssistantVersionsSearch | None = None,
    ) -> list[schemas.AssistantVersion]:
        return await assistants.versions(assistant_id, data or schemas.AssistantVersionsSearch(), auth=auth)

    @post("/{assistant_id:str}/latest", status_code=200, summary="Set the active version")
    async def set_latest(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str, data: schemas.AssistantSetLatest
    ) -> schemas.Assistant:
        return await assistants.set_latest(assistant_id, data.version, auth=auth)

    @get("/{assistant_id:str}/graph", summary="The assistant's graph, for drawing")
    async def get_graph(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str, xray: str | None = None
    ) -> dict[str, Any]:
        depth = parse_xray(xray)
        assistant = await assistants.get(assistant_id, auth=auth)
        async with assistants.graphs.graph(assistant.graph_id, dict(assistant.config)) as graph:
            try:
                return await asyncio.to_thread(graph_json, graph, depth)
            except NotImplementedError:
                raise Invalid("The graph does not support visualization") from None

    @get("/{assistant_id:str}/schemas", summary="Input, output, state, config and context schemas")
    async def get_schemas(self, assistants: AssistantService, auth: RequestAuth, assistant_id: str) -> dict[str, Any]:
        assistant = await assistants.get(assistant_id, auth=auth)
        async with assistants.graphs.graph(assistant.graph_id, dict(assistant.config)) as graph:
            return await asyncio.to_thread(graph_schemas, graph, assistant.graph_id)

    @get("/{assistant_id:str}/subgraphs", summary="Schemas of the assistant's subgraphs")
    async def get_subgraphs(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str, recurse: bool = False
    ) -> dict[str, Any]:
        return await self._subgraphs(assistants, auth, assistant_id, None, recurse)

    @get("/{assistant_id:str}/subgraphs/{namespace:str}", summary="Schemas of one subgraph")
    async def get_subgraphs_of(
        self, assistants: AssistantService, auth: RequestAuth, assistant_id: str, namespace: str, recurse: bool = False
    ) -> dict[str, Any]:
        return await self._subgraphs(assistants, auth, assistant_id, namespace, recurse)

    @staticmethod
    async def _subgraphs(
        assistants: AssistantService, auth: RequestAuth, assistant_id: str, namespace: str | None, recurse: bool
    ) -> dict[str, Any]:
        assistant = await assistants.get(assistant_id, auth=auth)
        async with assistants.graphs.graph(assistant.graph_id, dict(assistant.config)) as graph:
            return await asyncio.to_thread(subgraph_schemas, graph, namespace, recurse)
