"""Crons routes: `/runs/crons...` and `/threads/{thread_id}/runs/crons`. Thin: parse, call CronService."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, patch, post

from aegra.auth import RequestAuth
from aegra.domain.crons import schemas
from aegra.domain.crons.services import CronService


class CronController(Controller):
    path = "/runs/crons"
    tags = ["Crons"]

    @post("/", status_code=200, summary="Create a cron that runs on a new thread each time")
    async def create(self, crons: CronService, auth: RequestAuth, data: schemas.CronCreate) -> schemas.Cron:
        return await crons.create(None, data, auth=auth)

    @post("/search", status_code=200, summary="Search crons")
    async def search(self, crons: CronService, auth: RequestAuth, data: schemas.CronSearch) -> Response[Any]:
        page = await crons.search(data, auth=auth)
        return Response(page.items, headers=page.headers())

    @post("/count", status_code=200, summary="Count crons")
    async def count(self, crons: CronService, auth: RequestAuth, data: schemas.CronCount) -> int:
        return await crons.count(data, auth=auth)

    @get("/{cron_id:str}", summary="Get a cron")
    async def get_cron(self, crons: CronService, auth: RequestAuth, cron_id: str) -> schemas.Cron:
        return await crons.get(cron_id, auth=auth)

    @patch("/{cron_id:str}", summary="Update a cron")
    async def update(
        self, crons: CronService, auth: RequestAuth, cron_id: str, data: schemas.CronPatch
    ) -> schemas.Cron:
        return await crons.patch(cron_id, data, auth=auth)

    @delete("/{cron_id:str}", status_code=204, summary="Delete a cron")
    async def remove(self, crons: CronService, auth: RequestAuth, cron_id: str) -> None:
        await crons.delete(cron_id, auth=auth)


class ThreadCronController(Controller):
    path = "/threads/{thread_id:str}/runs/crons"
    tags = ["Crons"]

    @post("/", status_code=200, summary="Create a cron that runs on this thread")
    async def create(
        self, crons: CronService, auth: RequestAuth, thread_id: str, data: schemas.CronCreate
    ) -> schemas.Cron:
        return await crons.create(thread_id, data, auth=auth)
