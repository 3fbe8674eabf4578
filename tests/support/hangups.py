"""Clients that go away: for `on_disconnect=cancel` and `cancel_on_disconnect`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient


async def hang_up(http: httpx.AsyncClient, method: str, path: str, *, before_response: float | None = None,
                  **kwargs: Any) -> None:  # fmt: skip
    """Send the request and go away: `before_response` seconds in (the server must not have
    answered by then), or else right after the first bytes of the response."""
    if before_response is not None:
        try:
            await http.request(method, path, timeout=before_response, **kwargs)
        except httpx.ReadTimeout:
            return
        raise AssertionError(f"{method} {path} answered within {before_response} s")
    async with http.stream(method, path, **kwargs) as response:
        async for _ in response.aiter_raw():
            break


async def settled_status(client: LangGraphClient, thread_id: str, run_id: str) -> str:
    """The run's status once it is neither pending nor running (or whatever it is after 5 s)."""
    for _ in range(100):
        run = await client.runs.get(thread_id, run_id)
        if run["status"] not in ("pending", "running"):
            break
        await asyncio.sleep(0.05)
    return run["status"]
