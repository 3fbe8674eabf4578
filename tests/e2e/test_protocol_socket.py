"""The thread streaming protocol over a WebSocket (`WebSocket /threads/{id}/stream/events`), through
Granian, on SQLite and PostgreSQL: langgraph-sdk's `transport="websocket"` (async and sync) starts
runs, gets every channel, answers an interrupt and survives a dropped connection (it reconnects
with `since`); a raw socket speaks every command; bad frames get errors or close codes and change
nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.server import RunningServer

TERMINAL = ("completed", "failed", "interrupted")
CHANNELS = ["values", "updates", "messages", "tools", "custom", "lifecycle", "input", "tasks", "checkpoints"]


def _root_end(event: dict[str, Any]) -> bool:
    params = event["params"]
    return event["method"] == "lifecycle" and not params.get("namespace") and params["data"]["event"] in TERMINAL


async def _until_end(thread: Any, runs: int = 1) -> list[dict[str, Any]]:
    """Events until the end of the thread's `runs`-th run (a new event stream replays earlier runs)."""
    seen: list[dict[str, Any]] = []
    async for event in thread.events:
        if "method" in event:  # not the answer to the SDK's subscribe
            seen.append(event)
            if _root_end(event):
                runs -= 1
                if not runs:
                    return seen
    return seen


def _methods(events: list[dict[str, Any]]) -> set[str]:
    return {event["method"] for event in events}


async def test_the_async_sdk_runs_a_graph_over_the_socket(client: LangGraphClient) -> None:
    async with client.threads.stream(assistant_id="subgraph_parent", transport="websocket") as thread:
        started = await thread.run.start(input={"topic": "cats"})
        events = await asyncio.wait_for(_until_end(thread), 30)
    assert _methods(events) == {"lifecycle", "values"}  # what LangGraph's protocol stream has for this graph
    assert events[0]["params"]["data"]["event"] == "running" and events[-1]["params"]["data"]["event"] == "completed"
    assert any(e["params"]["namespace"] for e in events), "subgraph events come with their namespace"
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(set(seqs)), "each event once, in order"
    run = await client.runs.get(thread.thread_id, started["run_id"])
    assert run["status"] == "success"
    final = (await client.threads.get_state(thread.thread_id))["values"]
    assert [e for e in events if e["method"] == "values" and not e["params"]["namespace"]][-1]["params"][
        "data"
    ] == final


async def test_messages_and_an_interrupt_answered_over_the_socket(client: LangGraphClient) -> None:
    async with client.threads.stream(assistant_id="agent", transport="websocket") as thread:
        await thread.run.start(input={"messages": [{"role": "user", "content": "hi"}]})
        chat = await asyncio.wait_for(_until_end(thread), 30)
    assert "messages" in _methods(chat)

    async with client.threads.stream(assistant_id="interrupting", transport="websocket") as thread:
        await thread.run.start(input={"request": "deploy"})
        first = await asyncio.wait_for(_until_end(thread), 30)
        requested = [e["params"]["data"] for e in first if e["method"] == "input.requested"]
        assert len(requested) == 1 and first[-1]["params"]["data"]["event"] == "interrupted"
        await thread.run.respond("yes", interrupt_id=requested[0]["interrupt_id"])
        resumed = await asyncio.wait_for(_until_end(thread, runs=2), 30)
    assert resumed[-1]["params"]["data"]["event"] == "completed"
    state = await client.threads.get_state(thread.thread_id)
    assert state["next"] == [] and "yes" in json.dumps(state["values"])


def test_the_sync_sdk_runs_a_graph_over_the_socket(server: RunningServer) -> None:
    client = get_sync_client(url=server.url)
    seen: list[dict[str, Any]] = []
    with client.threads.stream(assistant_id="steps", transport="websocket") as thread:
        thread.run.start(input={"steps": 4, "seconds": 0.05})
        for event in thread.events:
            if "method" in event:
                seen.append(event)
                if _root_end(event):
                    break
    assert seen[-1]["params"]["data"]["event"] == "completed"
    assert [e["params"]["data"].get("done") for e in seen if e["method"] == "values"] == [None, 1, 2, 3, 4]


class DroppingProxy:
    """A TCP proxy in front of the server that cuts every open connection once, on demand: what a
    client sees when a network path drops (the server does not close the socket; the TCP
    connection just goes)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: list[asyncio.StreamWriter] = []
        self.pipes: list[asyncio.Task[None]] = []
        self.accepted = 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.close()
            self.drop()
            await asyncio.gather(*self.pipes, return_exceptions=True)

    def drop(self) -> None:
        for writer in self.connections:
            writer.transport.abort()
        self.connections.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.connections += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, RuntimeError):
                pass
            finally:
                sink.transport.abort()

        self.pipes += [
            asyncio.create_task(pipe(reader, upstream_writer)),
            asyncio.create_task(pipe(upstream_reader, writer)),
        ]


async def test_the_sdk_resumes_after_the_connection_drops(server: RunningServer) -> None:
    """The SDK reopens the socket with `since` = the last seq it saw: every event once, none lost."""
    proxy = DroppingProxy(int(server.url.rsplit(":", 1)[1]))
    async with proxy.running() as url:
        client = get_client(url=url)
        async with client.threads.stream(assistant_id="steps", transport="websocket") as thread:
            await thread.run.start(input={"steps": 20, "seconds": 0.1})
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(30):
                # `subscribe` goes through the SDK's controller, which reconnects (`events` does not).
                async for event in thread.subscribe(["lifecycle", "values"]):
                    seen.append(event)
                    if event["method"] == "values" and event["params"]["data"].get("done") == 5:
                        sockets_before = proxy.accepted
                        proxy.drop()
                    if _root_end(event):
                        break
    assert proxy.accepted > sockets_before, "the SDK connected again"
    assert seen[-1]["params"]["data"]["event"] == "completed"
    steps = [e["params"]["data"].get("done") for e in seen if e["method"] == "values"]
    assert steps == [None, *range(1, 21)], "every step once, in order, across the drop"
    assert len({e["event_id"] for e in seen}) == len(seen)


# -- a raw socket: every command on it ------------------------------------------------------


def _socket_url(server: RunningServer, thread_id: str) -> str:
    return f"{server.url.replace('http', 'ws', 1)}/threads/{thread_id}/stream/events"


async def _command(socket: ClientConnection, command: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send a command; its answer, and the events that came before it."""
    await socket.send(json.dumps(command))
    events = []
    async with asyncio.timeout(30):
        while True:
            frame = json.loads(await socket.recv())
            if frame.get("id") == command["id"] and frame["type"] in ("success", "error"):
                return frame, events
            events.append(frame)


async def _events_until_end(socket: ClientConnection) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while not events or not _root_end(events[-1]):
            frame = json.loads(await socket.recv())
            if frame.get("type") == "event":
                events.append(frame)
    return events


async def test_every_command_on_one_socket(server: RunningServer, client: LangGraphClient) -> None:
    """Subscribe, start a run on a thread that does not exist yet, follow it, look at the tree,
    unsubscribe; a later socket that subscribes with `since` gets only what came after."""
    thread_id = str(uuid.uuid4())
    async with connect(_socket_url(server, thread_id)) as socket:
        channels = {"channels": ["lifecycle", "values"]}
        subscribed, _ = await _command(socket, {"id": 1, "method": "subscription.subscribe", "params": channels})
        assert subscribed["type"] == "success" and subscribed["result"]["replayed_events"] == 0
        start = {"assistant_id": "subgraph_parent", "input": {"topic": "x"}}
        started, _ = await _command(socket, {"id": 2, "method": "run.start", "params": start})
        assert started["type"] == "success" and started["result"]["run_id"]
        events = await _events_until_end(socket)
        assert _methods(events) == {"lifecycle", "values"}
        tree, _ = await _command(socket, {"id": 3, "method": "agent.getTree"})
        assert tree["result"]["tree"]["namespace"] == [] and tree["result"]["tree"]["status"] == "completed"
        assert tree["result"]["tree"]["children"], "the subgraph"
        assert tree["meta"]["applied_through_seq"] >= events[-1]["seq"]
        subscription = {"subscription_id": subscribed["result"]["subscription_id"]}
        gone, _ = await _command(socket, {"id": 4, "method": "subscription.unsubscribe", "params": subscription})
        assert gone["type"] == "success"
    assert (await client.runs.get(thread_id, started["result"]["run_id"]))["status"] == "success"

    since = events[1]["seq"]
    async with connect(_socket_url(server, thread_id)) as socket:
        params = {**channels, "since": since}
        _, replayed = await _command(socket, {"id": 1, "method": "subscription.subscribe", "params": params})
        if not replayed:  # the socket had not read the thread's events yet: they come live
            replayed = await _events_until_end(socket)
        assert [e["seq"] for e in replayed] == [e["seq"] for e in events[2:]]
        assert [e["event_id"] for e in replayed] == [e["event_id"] for e in events[2:]]


async def _closed_with(socket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await socket.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_bad_frames_are_answered_and_change_nothing(server: RunningServer, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    url = _socket_url(server, thread["thread_id"])
    async with connect(url, max_size=None) as socket:
        for frame, code in (
            ("{nope", "invalid_argument"),
            ("[1, 2]", "invalid_argument"),
            (json.dumps({"id": "1", "method": "run.start"}), "invalid_argument"),
            (json.dumps({"id": 1, "method": "no.such"}), "unknown_command"),
            (json.dumps({"id": 2, "method": "subscription.subscribe", "params": {"channels": 1}}), "invalid_argument"),
            (json.dumps({"id": 3, "method": "subscription.subscribe",
                         "params": {"channels": ["values"], "since": -1}}), "invalid_argument"),
            (json.dumps({"id": 4, "method": "run.start", "params": {"assistant_id": "nope"}}), "invalid_argument"),
            (json.dumps({"id": 5, "method": "run.start", "params": {"assistant_id": "agent", "metadata": []}}),
             "invalid_argument"),
            (json.dumps({"id": 6, "method": "input.respond", "params": {"interrupt_id": "x", "response": 1}}),
             "no_such_interrupt"),
            ("[" * 100_000, "invalid_argument"),
        ):  # fmt: skip
            await socket.send(frame)
            answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert answer["type"] == "error" and answer["error"] == code and answer["message"], (frame[:80], answer)
        await socket.send("x" * 10_000_001)
        assert await _closed_with(socket) == 1009
    async with connect(url) as socket:
        await socket.send(b'{"id": 1, "method": "agent.getTree"}')
        assert await _closed_with(socket) == 1003
    async with connect(_socket_url(server, "not-a-thread")) as socket:
        assert await _closed_with(socket) == 1011
    assert await client.runs.list(thread["thread_id"]) == []
    assert (await client.threads.get(thread["thread_id"]))["updated_at"] == thread["updated_at"]
    # The server is still well.
    async with client.threads.stream(thread["thread_id"], assistant_id="steps", transport="websocket") as stream:
        await stream.run.start(input={"steps": 1, "seconds": 0.01})
        assert (await asyncio.wait_for(_until_end(stream), 30))[-1]["params"]["data"]["event"] == "completed"


async def test_a_client_that_leaves_mid_run_leaves_the_run_running(
    server: RunningServer, client: LangGraphClient
) -> None:
    thread_id = str(uuid.uuid4())
    async with connect(_socket_url(server, thread_id)) as socket:
        await _command(socket, {"id": 1, "method": "subscription.subscribe", "params": {"channels": CHANNELS}})
        start = {"assistant_id": "steps", "input": {"steps": 5, "seconds": 0.1}}
        started, _ = await _command(socket, {"id": 2, "method": "run.start", "params": start})
        await asyncio.wait_for(socket.recv(), 10)
    joined = await client.runs.join(thread_id, started["result"]["run_id"])
    assert joined["done"] == 5
