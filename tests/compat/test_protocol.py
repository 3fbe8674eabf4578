"""The thread streaming protocol (langgraph-sdk's `client.threads.stream`, over SSE): run.start,
the events each channel carries, interrupts answered with input.respond."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.compat.pair import Pair, Side

TERMINAL = ("completed", "failed", "interrupted")


async def _until_terminal(thread: Any) -> list[tuple[str, list[str], Any]]:
    """The events of all channels until the root lifecycle says the run stopped."""
    seen: list[tuple[str, list[str], Any]] = []
    async for event in thread.events:
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


async def test_run_start_streams_every_channel(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for graph, value in (("agent", {"messages": [{"role": "user", "content": "hi"}]}),
                             ("subgraph_parent", {"topic": "cats"}), ("failing", {})):  # fmt: skip
            async with s.raw.threads.stream(assistant_id=graph) as thread:
                s.name_id(thread.thread_id, f"thread:{graph}")
                started = await thread.run.start(input=value)
                s.name_id(started["run_id"], f"run:{graph}")
                events = await asyncio.wait_for(_until_terminal(thread), 30)
            out[f"protocol.run_start.{graph}"] = started
            out[f"protocol.events.{graph}"] = _by_method(events)
        return out

    await pair.run(scenario)


async def test_interrupt_and_input_respond(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        async with s.raw.threads.stream(assistant_id="interrupting") as thread:
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
