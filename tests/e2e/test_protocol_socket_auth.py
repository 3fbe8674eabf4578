"""The auth handler on the protocol's WebSocket (`WebSocket /threads/{id}/stream/events`), on SQLite
and PostgreSQL: without a valid token the handshake is refused (403, as langgraph-api's server
answers a socket its auth middleware refuses); with one the SDK works over the socket; another
user's thread never shows on a socket, nor can a socket start runs on it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk import get_client
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.test_auth import headers, project_server
from tests.support.server import RunningServer


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from project_server(request, tmp_path_factory, "socket-auth")


def _url(server: RunningServer, thread_id: str) -> str:
    return f"{server.url.replace('http', 'ws', 1)}/threads/{thread_id}/stream/events"


@pytest.mark.parametrize("given", [{}, {"Authorization": "Bearer forged.0000"}])
async def test_a_socket_without_a_valid_token_is_refused(server: RunningServer, given: dict[str, str]) -> None:
    url = _url(server, str(uuid.uuid4()))
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=given):
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, additional_headers=headers("alice")) as socket:  # the same socket, with a token
        await socket.send(json.dumps({"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}))
        assert json.loads(await socket.recv())["type"] == "success"


async def test_the_sdk_over_the_socket_with_a_token(server: RunningServer) -> None:
    alice = get_client(url=server.url, headers=headers("alice"))
    # langgraph-sdk 0.4 sends the stream's own `headers` on the handshake, not the client's.
    stream = alice.threads.stream(assistant_id="whoami", transport="websocket", headers=headers("alice"))
    async with stream as thread:
        await thread.run.start(input={})
        async with asyncio.timeout(30):
            async for event in thread.subscribe(["values", "lifecycle"]):
                if event["method"] == "lifecycle" and event["params"]["data"]["event"] == "completed":
                    break
                if event["method"] == "values" and event["params"]["data"].get("user_id"):
                    values = event["params"]["data"]
    assert values["user_id"] == "alice"


async def test_another_users_thread_never_shows_on_a_socket(server: RunningServer) -> None:
    alice = get_client(url=server.url, headers=headers("alice"))
    thread = await alice.threads.create()
    subscribe = json.dumps({"id": 1, "method": "subscription.subscribe", "params": {"channels": ["lifecycle"]}})
    start = {"id": 2, "method": "run.start", "params": {"assistant_id": "whoami", "input": {"sleep": 0.3}}}
    async with connect(_url(server, thread["thread_id"]), additional_headers=headers("bob")) as bob:
        await bob.send(subscribe)
        assert json.loads(await bob.recv())["type"] == "success"
        await bob.send(json.dumps(start))
        refused = json.loads(await bob.recv())
        assert refused["type"] == "error" and refused["id"] == 2, refused
        async with connect(_url(server, thread["thread_id"]), additional_headers=headers("alice")) as own:
            await own.send(subscribe)
            await own.send(json.dumps(start))
            seen: list[Any] = []
            async with asyncio.timeout(30):
                while not seen or seen[-1].get("params", {}).get("data", {}).get("event") != "completed":
                    seen.append(json.loads(await own.recv()))
        assert [e["params"]["data"]["event"] for e in seen if e.get("type") == "event"] == ["running", "completed"]
        # Bob's socket saw none of it.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bob.recv(), 1.0)
    assert len(await alice.runs.list(thread["thread_id"])) == 1
