"""The thread streaming protocol (langgraph-sdk's `client.threads.stream`, over SSE and over a
WebSocket): run.start, the events each channel carries, interrupts answered with input.respond,
and what each transport answers to what is not a command."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.compat.pair import Pair, Side

TERMINAL = ("completed", "failed", "interrupted")
TRANSPORTS = pytest.mark.parametrize("transport", ["sse", "websocket"])


async def _until_terminal(thread: Any) -> list[tuple[str, list[str], Any]]:
    """The events of all channels until the root lifecycle says the run stopped."""
    seen: list[tuple[str, list[str], Any]] = []
    async for event in thread.events:
        if "method" not in event:  # over a WebSocket the SDK passes on its subscribe's answer too
            continue
        params = event["params"]
        data = params.get("data")
        seen.append((event["method"], params.get("namespace"), data))
        if event["method"] == "lifecycle" and not params.get("namespace") and data.get("event") in TERMINAL:
            return seen
    return seen


def _by_method(events: list[tuple[str, list[str], Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for method, namespace, data in events:
        grouped.setdefault(method, []).append({"namespace": namespace, "data": data})
    return grouped


@TRANSPORTS
async def test_run_start_streams_every_channel(pair: Pair, transport: str) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for graph, value in (("agent", {"messages": [{"role": "user", "content": "hi"}]}),
                             ("subgraph_parent", {"topic": "cats"}), ("failing", {})):  # fmt: skip
            async with s.raw.threads.stream(assistant_id=graph, transport=transport) as thread:
                s.name_id(thread.thread_id, f"thread:{graph}")
                started = await thread.run.start(input=value)
                s.name_id(started["run_id"], f"run:{graph}")
                events = await asyncio.wait_for(_until_terminal(thread), 30)
            out[f"protocol.run_start.{graph}"] = started
            out[f"protocol.events.{graph}"] = _by_method(events)
        return out

    await pair.run(scenario)


@TRANSPORTS
async def test_interrupt_and_input_respond(pair: Pair, transport: str) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        async with s.raw.threads.stream(assistant_id="interrupting", transport=transport) as thread:
            s.name_id(thread.thread_id, "thread")
            await thread.run.start(input={"request": "deploy"})
            first = await asyncio.wait_for(_until_terminal(thread), 30)
            requested = [data for method, _, data in first if method == "input.requested"]
            async with asyncio.timeout(10):  # the SDK learns of interrupts on a stream of its own
                while not thread.interrupts:  # noqa: ASYNC110 - the SDK exposes no event for it
                    await asyncio.sleep(0.05)
            answer = await s.call(thread.run.respond("yes", interrupt_id=requested[0]["interrupt_id"]))
        # The resumed run, through the REST API (an event stream replays the thread's earlier runs too).
        resumed = (await s.sdk.runs.list(thread.thread_id, limit=1))[0]
        s.name_id(resumed["run_id"], "resumed")
        return {
            "protocol.interrupt.events": _by_method(first),
            "protocol.input_respond": answer,
            "protocol.resumed": await s.sdk.runs.join(thread.thread_id, resumed["run_id"]),
            "protocol.thread": await s.sdk.threads.get_state(thread.thread_id),
        }

    await pair.run(scenario)


async def test_commands_and_stream_refusals(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        thread = (await s.sdk.threads.create())["thread_id"]
        s.name_id(thread, "thread")
        return {
            "protocol.command.unknown": await s.request("POST", f"/threads/{thread}/commands",
                                                        json={"id": 1, "method": "nope", "params": {}}),
            "protocol.command.no_id": await s.request("POST", f"/threads/{thread}/commands", json={"method": "x"}),
            "protocol.command.no_assistant": await s.request("POST", f"/threads/{thread}/commands",
                                                             json={"id": 2, "method": "run.start", "params": {}}),
            "protocol.stream.no_channels": await s.request("POST", f"/threads/{thread}/stream/events", json={}),
            "protocol.stream.bad_channel": await s.request("POST", f"/threads/{thread}/stream/events",
                                                           json={"channels": ["nope"]}),
        }  # fmt: skip

    await pair.run(scenario)


async def _frames(url: str, frames: list[str | bytes], expected: int, *, closing: bool = False) -> list[Any]:
    """What a socket answers to these frames: `expected` frames, then how it closed (or that it is open);
    `closing`: any number of frames until it closes."""
    answers: list[Any] = []
    async with connect(url.replace("http", "ws", 1), open_timeout=10) as socket:
        try:
            for frame in frames:
                await socket.send(frame)
            while len(answers) < expected or closing:
                answers.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
            answers.append(json.loads(await asyncio.wait_for(socket.recv(), 0.5)))  # nothing more
        except TimeoutError:
            answers.append("<open>")
        except ConnectionClosed as closed:
            answers.append({"closed": closed.rcvd.code if closed.rcvd else None})
    return answers


async def test_socket_refusals(pair: Pair) -> None:
    """Frames that are not commands get an error frame and the socket stays open; a binary frame
    or a thread id that is not one ends it; a thread that does not exist yet is waited for."""

    async def scenario(s: Side) -> dict[str, Any]:
        thread = (await s.sdk.threads.create())["thread_id"]
        s.name_id(thread, "thread")
        socket = f"{s.url}/threads/{thread}/stream/events"
        subscribe = {"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}
        return {
            "protocol.socket.commands": await _frames(socket, [
                "{nope", json.dumps({"method": "x"}), "[1]", json.dumps({"id": 2, "method": "nope"}),
                json.dumps({"id": 3, "method": "subscription.subscribe", "params": {"channels": ["nope"]}}),
                json.dumps({"id": 4, "method": "subscription.subscribe", "params": {}}),
                json.dumps({"id": 5, "method": "subscription.unsubscribe", "params": {"subscription_id": "x"}}),
                json.dumps({"id": 6, "method": "subscription.unsubscribe", "params": {}}),
                json.dumps({"id": 7, "method": "agent.getTree"}),
                json.dumps({"id": 8, "method": "subscription.reconnect",
                            "params": {"channels": ["values"], "since": 1}}),
                json.dumps({"id": 9, "method": "run.start", "params": {}}),
                json.dumps({"id": 10, "method": "input.respond", "params": {"interrupt_id": "abc", "response": 1}}),
                json.dumps(subscribe),
            ], 13),
            "protocol.socket.binary": await _frames(socket, [json.dumps(subscribe).encode()], 0),
            "protocol.socket.unknown_thread": await _frames(
                f"{s.url}/threads/{uuid.uuid4()}/stream/events", [json.dumps(subscribe)], 1
            ),
            # How it ends (the subscribe may be answered first, or not: the end is not ordered with it).
            "protocol.socket.not_a_thread_id": (await _frames(
                f"{s.url}/threads/not-a-uuid/stream/events", [json.dumps(subscribe)], 0, closing=True
            ))[-1],
        }  # fmt: skip

    await pair.run(scenario)
