"""`GET /threads/{thread_id}/storage`: what a thread's checkpoints occupy (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import httpx

from tests.support.server import RunningServer


async def test_storage_grows_with_the_threads_checkpoints(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        empty = (await http.get(f"/threads/{thread}/storage")).json()
        assert empty["thread_id"] == thread and empty["total_bytes"] == 0 and empty["checkpoints"]["count"] == 0
        run = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        await http.post(f"/threads/{thread}/runs/wait", json=run)
        report = (await http.get(f"/threads/{thread}/storage")).json()
        assert report["checkpoints"]["count"] >= 3 and report["checkpoints"]["bytes"] > 0
        parts = report["checkpoints"]["bytes"] + report["channel_values"]["bytes"] + report["pending_writes"]["bytes"]
        assert report["total_bytes"] == parts
        assert (await http.get(f"/threads/{uuid.uuid4()}/storage")).status_code == 404
        assert (await http.get("/threads/not-a-uuid/storage")).status_code == 422
