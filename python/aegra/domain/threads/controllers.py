"""`/threads` routes: threads, their state and history. Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import Parameter

from aegra.auth import RequestAuth
from aegra.domain.threads import schemas
from aegra.domain.threads.services import ThreadService

HistoryLimit = Annotated[int, Parameter(ge=1, le=1000)]


class ThreadController(Controller):
    path = "/threads"
    tags = ["Threads"]

    @post("/", status_code=200, summary="Create a thread")
    async def create(self, threads: ThreadService, auth: RequestAuth, data: schemas.ThreadCreate) -> schemas.Thread:
        return await threads.create(data, auth=auth)

    @post("/search", status_code=200, summary="Search threads")
    async def search(self, threads: ThreadService, auth: RequestAuth, data: schemas.ThreadSearch) -> Response[Any]:
        page = await threads.search(data, auth=auth)
        return Response(page.items, headers=page.headers())

    @post("/count", status_code=200, summary="Count threads")
    async def count(self, threads: ThreadService, auth: RequestAuth, data: schemas.ThreadCount) -> int:
        return await threads.count(data, auth=auth)

    @post("/prune", status_code=200, summary="Delete threads, or all but their latest checkpoint")
    async def prune(self, threads: ThreadService, auth: RequestAuth, data: schemas.ThreadPrune) -> schemas.PruneResult:
        return await threads.prune(data, auth=auth)

    @get("/{thread_id:str}", summary="Get a thread")
    async def get_thread(
        self, threads: ThreadService, auth: RequestAuth, thread_id: str, include: str | None = None
    ) -> schemas.Thread:
        return await threads.get(thread_id, auth=auth, include=include)

    @patch("/{thread_id:str}", summary="Merge metadata into a thread, set its TTL")
    async def update(
        self,
        threads: ThreadService,
        auth: RequestAuth,
        thread_id: str,
        data: schemas.ThreadPatch,
        prefer: Annotated[str | None, Parameter(header="Prefer")] = None,
    ) -> Response[Any]:
        thread = await threads.patch(thread_id, data, auth=auth)
        if prefer == "return=minimal":
            return Response(None, status_code=204)
        return Response(thread)

    @delete("/{thread_id:str}", status_code=204, summary="Delete a thread, its runs and checkpoints")
    async def remove(self, threads: ThreadService, auth: RequestAuth, thread_id: str) -> None:
        await threads.delete(thread_id, auth=auth)

    @post("/{thread_id:str}/copy", status_code=200, summary="Copy a thread with its checkpoints")
    async def copy(self, threads: ThreadService, auth: RequestAuth, thread_id: str) -> schemas.Thread:
        return await threads.copy(thread_id, auth=auth)

    @get("/{thread_id:str}/storage", summary="Bytes the thread's checkpoints occupy, per table and channel")
    async def storage(self, threads: ThreadService, auth: RequestAuth, thread_id: str) -> dict[str, Any]:
        return await threads.storage(thread_id, auth=auth)

    # -- state and history ----------------------------------------------------------------

    @get("/{thread_id:str}/state", summary="The thread's latest state")
    async def get_state(
        self,
        threads: ThreadService,
        auth: RequestAuth,
        thread_id: str,
        subgraphs: bool = False,
        select: list[str] | None = None,
    ) -> dict[str, Any]:
        return await threads.state.get(thread_id, auth=auth, subgraphs=subgraphs, select=select)

    @get("/{thread_id:str}/state/{checkpoint_id:str}", summary="The thread's state at a checkpoint")
    async def get_state_at(
        self,
        threads: ThreadService,
        auth: RequestAuth,
        thread_id: str,
        checkpoint_id: str,
        subgraphs: bool = False,
        select: list[str] | None = None,
    ) -> dict[str, Any]:
        checkpoint = {"checkpoint_id": checkpoint_id}
        return await threads.state.get(thread_id, auth=auth, checkpoint=checkpoint, subgraphs=subgraphs, select=select)

    @post("/{thread_id:str}/state/checkpoint", status_code=200, summary="The thread's state at a checkpoint")
    async def post_state_at(
        self, threads: ThreadService, auth: RequestAuth, thread_id: str, data: schemas.StateAtCheckpoint
    ) -> dict[str, Any]:
        checkpoint = data.checkpoint.configurable()
        return await threads.state.get(
            thread_id, auth=auth, checkpoint=checkpoint, subgraphs=data.subgraphs, select=data.select
        )

    @post("/{thread_id:str}/state", status_code=200, summary="Update the thread's state")
    async def update_state(
        self, threads: ThreadService, auth: RequestAuth, thread_id: str, data: schemas.StateUpdate
    ) -> schemas.StateUpdateResult:
        return await threads.state.update(thread_id, data, auth=auth)

    @get("/{thread_id:str}/history", summary="The thread's past states, newest first")
    async def get_history(
        self,
        threads: ThreadService,
        auth: RequestAuth,
        thread_id: str,
        limit: HistoryLimit = 1,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        return await threads.state.history(thread_id, auth=auth, limit=limit, before=before)

    @post("/{thread_id:str}/history", status_code=200, summary="The thread's past states, newest first")
    async def post_history(
        self, threads: ThreadService, auth: RequestAuth, thread_id: str, data: schemas.HistorySearch
    ) -> list[dict[str, Any]]:
        return await threads.state.history(
            thread_id,
            auth=auth,
            limit=data.limit,
            before=data.before,
            metadata=data.metadata,
            checkpoint=data.checkpoint.configurable() if data.checkpoint else None,
            select=data.select,
        )
