"""Run options and graphs beyond test_runs.py, through langgraph-sdk on SQLite and PostgreSQL:
tool calls streamed by a fake chat model, breakpoints (`interrupt_before`/`interrupt_after`),
`command` with `update` and `goto`, `durability` and the deprecated `checkpoint_during`, the
thread stream's `stream_modes` spelling, and reconnecting to a stateless run.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import Command

from tests.support.server import RunningServer
from tests.support.streams import collect, sse_events, sse_frames

PARIS = {"messages": [{"role": "user", "content": "Paris"}]}


async def test_tool_calls_stream_as_message_tuples_and_updates(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await collect(
        client.runs.stream(thread["thread_id"], "tool_agent", input=PARIS, stream_mode=["messages-tuple", "updates"])
    )
    assert [next(iter(data)) for event, data in parts if event == "updates"] == ["agent", "tools", "agent"]
    tuples = [data for event, data in parts if event == "messages"]
    messages = [(message, metadata["langgraph_node"]) for message, metadata in tuples]
    calls = [chunk for message, _ in messages for chunk in message.get("tool_call_chunks") or []]
    assert [(c["name"], json.loads(c["args"]), c["id"]) for c in calls] == [
        ("get_weather", {"city": "Paris"}, "call_1")
    ]
    tool_results = [(message["content"], node) for message, node in messages if message["type"] == "tool"]
    assert tool_results == [("sunny in Paris", "tools")]
    answer = "".join(m["content"] for m, node in messages if node == "agent" and m["type"] == "AIMessageChunk")
    assert answer == "The weather: sunny in Paris"

    state = await client.threads.get_state(thread["thread_id"])
    kinds = [(m["type"], bool(m.get("tool_calls"))) for m in state["values"]["messages"]]
    assert kinds == [("human", False), ("ai", True), ("tool", False), ("ai", False)]


async def test_messages_mode_sends_whole_messages_as_complete(client: LangGraphClient) -> None:
    parts = await collect(client.runs.stream(None, "tool_agent", input=PARIS, stream_mode="messages"))
    complete = [data[0] for event, data in parts if event == "messages/complete"]
    assert [(m["type"], m["content"]) for m in complete] == [("tool", "sunny in Paris")]
    partials = [data[0] for event, data in parts if event == "messages/partial"]
    assert partials[0]["tool_calls"][0]["name"] == "get_weather"
    assert partials[-1]["content"] == "The weather: sunny in Paris"


async def test_breakpoints_stop_the_run_and_an_empty_input_continues_it(client: LangGraphClient) -> None:
    for breakpoint in ({"interrupt_before": ["tools"]}, {"interrupt_after": ["agent"]}):
        thread_id = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread_id, "tool_agent", input=PARIS, **breakpoint)
        assert (await client.threads.get(thread_id))["status"] == "interrupted", breakpoint
        state = await client.threads.get_state(thread_id)
        assert state["next"] == ["tools"], breakpoint
        assert len(state["values"]["messages"]) == 2, "the tool has not run"

        result = await client.runs.wait(thread_id, "tool_agent", input=None)
        assert result["messages"][-1]["content"] == "The weather: sunny in Paris"
        assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_command_update_and_goto(client: LangGraphClient) -> None:
    thread_id = (await client.threads.create())["thread_id"]
    await client.runs.wait(thread_id, "agent", input={"messages": [{"role": "user", "content": "hi"}]})
    again = Command(goto="chat", update={"messages": [{"role": "user", "content": "again"}]})
    result = await client.runs.wait(thread_id, "agent", command=again)
    assert [m["content"] for m in result["messages"]] == ["hi", "You said: hi", "again", "You said: again"]

    thread_id = (await client.threads.create())["thread_id"]
    await client.runs.wait(thread_id, "interrupting", input={"request": "deploy"})
    result = await client.runs.wait(
        thread_id, "interrupting", command=Command(resume="yes", update={"request": "ship"})
    )
    assert result["result"] == "ship: yes"


@pytest.mark.filterwarnings("ignore:`checkpoint_during` is deprecated:DeprecationWarning")  # used on purpose
@pytest.mark.parametrize(
    ("option", "checkpoints"),
    [
        ({"durability": "sync"}, "every step"),
        ({"durability": "async"}, "every step"),
        ({"durability": "exit"}, "the last"),
        ({"checkpoint_during": True}, "every step"),
        ({"checkpoint_during": False}, "the last"),
    ],
)
async def test_durability_decides_which_checkpoints_are_kept(client: LangGraphClient, option: dict,
                                                             checkpoints: str) -> None:  # fmt: skip
    thread_id = (await client.threads.create())["thread_id"]
    result = await client.runs.wait(thread_id, "tool_agent", input=PARIS, **option)
    assert result["messages"][-1]["content"] == "The weather: sunny in Paris"
    history = await client.threads.get_history(thread_id, limit=100)
    # input, agent, tools, agent, and the empty one before the input: five; under `exit`, one.
    assert len(history) == (5 if checkpoints == "every step" else 1), option
    assert len(history[0]["values"]["messages"]) == 4


async def test_the_thread_stream_accepts_stream_modes(server: RunningServer, client: LangGraphClient) -> None:
    """The SDK sends `stream_mode`; langgraph-api's own spelling is `stream_modes`."""
    thread_id = (await client.threads.create())["thread_id"]
    await client.runs.create(thread_id, "slow", input={"seconds": 0.3}, stream_mode=["custom", "values"])
    body = ""
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        # From the start (Last-Event-ID 0): on a busy machine the run may end before the join,
        # and a join without it streams only from now on.
        http.stream("GET", f"/threads/{thread_id}/stream", params={"stream_modes": "custom"},
                    headers={"Last-Event-ID": "0"}) as response,
        asyncio.timeout(60),
    ):  # fmt: skip
        # The thread stream stays open for the thread's next runs (as langgraph-api's): read up to
        # the end of this run.
        async for text in response.aiter_text():
            body += text
            if '"run_done"' in body:
                break
    events = sse_events(body)
    assert {event for event, _ in events} == {"metadata", "custom"}, "the run's `values` are left out"
    assert [data["step"] for event, data in events if event == "custom"] == [1, 2, 3, 4, 5, 6]
    assert events[-1][1]["status"] == "run_done"


async def test_a_stateless_run_can_be_streamed_again_and_joined(server: RunningServer, client: LangGraphClient) -> None:
    run = await client.runs.create(None, "slow", input={"seconds": 0.3}, stream_mode=["custom", "values"],
                                   on_completion="keep")  # fmt: skip
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        # From the start (Last-Event-ID 0): without it, a join streams from now on.
        streamed = await http.get(f"/runs/{run['run_id']}/stream", headers={"Last-Event-ID": "0"})
        assert streamed.status_code == 200
        events = sse_events(streamed.text)
        assert events[0][0] == "metadata" and events[0][1]["run_id"] == run["run_id"]
        assert [data["step"] for event, data in events if event == "custom"] == [1, 2, 3, 4, 5, 6]
        joined = await http.get(f"/runs/{run['run_id']}/join")
        assert joined.status_code == 200 and joined.json() == {"seconds": 0.3, "steps_done": 6}
        first_step = next(frame["id"] for frame in sse_frames(streamed.text) if frame["event"] == "custom")
        replayed = await http.get(f"/runs/{run['run_id']}/stream", headers={"Last-Event-ID": first_step})
        assert [data["step"] for event, data in sse_events(replayed.text) if event == "custom"] == [2, 3, 4, 5, 6]
    kept = await client.runs.get(run["thread_id"], run["run_id"])
    assert kept["status"] == "success"
