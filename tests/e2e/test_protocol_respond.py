"""The thread streaming protocol over HTTP: a client that answers an interrupt the moment its
`input.requested` event arrives. The event leaves before the run's settle has written the
interrupt on the thread, so the answer must wait for the settle (as langgraph-api's does)
rather than be refused as an unknown interrupt."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient

from tests.support.server import RunningServer

ROUNDS = 8


async def _first_interrupt(events: httpx.Response) -> dict[str, Any]:
    async for line in events.aiter_lines():
        if line.startswith("data:"):
            event = json.loads(line[5:])
            if event["method"] == "input.requested":
                return event["params"]["data"]
    raise AssertionError("the stream ended without an input.requested event")


async def _answer_at_once(http: httpx.AsyncClient, client: LangGraphClient, round_: int) -> None:
    thread_id = (await client.threads.create())["thread_id"]
    channels = {"channels": ["lifecycle", "input"]}
    async with http.stream("POST", f"/threads/{thread_id}/stream/events", json=channels) as events:
        start = {"id": 1, "method": "run.start",
                 "params": {"assistant_id": "interrupting", "input": {"request": f"deploy {round_}"}}}  # fmt: skip
        started = (await http.post(f"/threads/{thread_id}/commands", json=start)).json()
        assert started["type"] == "success", started
        requested = await _first_interrupt(events)
        respond = {"id": 2, "method": "input.respond",
                   "params": {"interrupt_id": requested["interrupt_id"], "response": "yes"}}  # fmt: skip
        answer = (await http.post(f"/threads/{thread_id}/commands", json=respond)).json()
    assert answer["type"] == "success", f"round {round_}: {answer}"
    [resumed] = await client.runs.list(thread_id, limit=1)
    await client.runs.join(thread_id, resumed["run_id"])
    state = await client.threads.get_state(thread_id)
    assert state["values"]["result"] == f"deploy {round_}: yes"


async def test_an_interrupt_answered_as_soon_as_it_is_streamed_resumes_the_run(
    server: RunningServer, client: LangGraphClient
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        # Several at once: the server is busier, and its settles lag further behind the streams.
        await asyncio.gather(*(_answer_at_once(http, client, round_) for round_ in range(ROUNDS)))
