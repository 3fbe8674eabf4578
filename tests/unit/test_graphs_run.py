"""Every graph in tests/graphs runs, with an in-memory checkpointer, as later API tests expect."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from aegra.graphs import GraphRegistry
from tests.graphs import load_test_graphs
from tests.graphs.custom_schema import Context
from tests.graphs.failing import ERROR_MESSAGE


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return load_test_graphs()


def thread(**configurable: Any) -> RunnableConfig:
    return {"configurable": {"thread_id": str(uuid.uuid4()), **configurable}}


async def invoke(registry: GraphRegistry, graph_id: str, value: Any, config: RunnableConfig | None = None) -> Any:
    config = config or thread()
    async with registry.graph(graph_id, config, checkpointer=InMemorySaver(), store=InMemoryStore()) as graph:
        return await graph.ainvoke(value, config)


async def test_agent_replies_and_streams_partial_message_chunks(registry: GraphRegistry) -> None:
    config = thread()
    async with registry.graph("agent", config, checkpointer=InMemorySaver()) as graph:
        chunks = [
            message
            async for message, _meta in graph.astream(
                {"messages": [("user", "hello there")]}, config, stream_mode="messages"
            )
        ]
        state = await graph.aget_state(config)
    tokens = [chunk for chunk in chunks if isinstance(chunk, AIMessageChunk)]
    assert len(tokens) > 1
    assert "".join(str(token.content) for token in tokens) == "You said: hello there"
    assert state.values["messages"][-1].content == "You said: hello there"


async def test_interrupting_pauses_then_resumes_with_the_value(registry: GraphRegistry) -> None:
    config = thread()
    async with registry.graph("interrupting", config, checkpointer=InMemorySaver()) as graph:
        first = await graph.ainvoke({"request": "deploy"}, config)
        [pending] = first["__interrupt__"]
        assert pending.value == {"question": "Approve deploy?"}
        assert (await graph.aget_state(config)).next == ("review",)

        final = await graph.ainvoke(Command(resume="yes"), config)
    assert final["result"] == "deploy: yes"
    assert "__interrupt__" not in final


async def test_subgraph_parent_runs_and_streams_subgraph_namespaces(registry: GraphRegistry) -> None:
    config = thread()
    async with registry.graph("subgraph_parent", config, checkpointer=InMemorySaver()) as graph:
        namespaces = [ns async for ns, _update in graph.astream({"topic": "x"}, config, subgraphs=True)]
        state = await graph.aget_state(config)
    assert state.values["result"] == "child saw prepared x, finished"
    assert any(ns and ns[0].startswith("child:") for ns in namespaces)


@pytest.mark.parametrize("graph_id", ["factory", "factory_context"])
async def test_factory_graphs_run_with_the_run_config(registry: GraphRegistry, graph_id: str) -> None:
    result = await invoke(registry, graph_id, {"name": "Ann"}, thread(greeting="welcome"))
    assert result == {"name": "Ann", "greeting": "welcome, Ann"}


async def test_custom_schema_filters_output_and_reads_context(registry: GraphRegistry) -> None:
    config = thread()
    async with registry.graph("custom_schema", config, checkpointer=InMemorySaver()) as graph:
        assert await graph.ainvoke({"name": "Ann"}, config) == {"greeting": "Hello, Ann."}
        shouted = await graph.ainvoke({"name": "Bo"}, thread(), context=Context(punctuation="!", shout=True))
        assert shouted == {"greeting": "HELLO, BO!"}
        assert (await graph.aget_state(config)).values["internal_note"] == "greeted"


async def test_failing_raises_its_error(registry: GraphRegistry) -> None:
    with pytest.raises(ValueError, match=ERROR_MESSAGE):
        await invoke(registry, "failing", {"value": "x"})


async def test_slow_reports_progress_and_finishes(registry: GraphRegistry) -> None:
    config = thread()
    async with registry.graph("slow", config, checkpointer=InMemorySaver()) as graph:
        progress = [chunk async for chunk in graph.astream({"seconds": 0.1}, config, stream_mode="custom")]
        state = await graph.aget_state(config)
    assert progress == [{"step": 1, "of": 2}, {"step": 2, "of": 2}]
    assert state.values["steps_done"] == 2


async def test_slow_can_be_cancelled_mid_run(registry: GraphRegistry) -> None:
    config = thread()
    started = asyncio.Event()

    async def consume() -> None:
        async with registry.graph("slow", config, checkpointer=InMemorySaver()) as graph:
            async for _chunk in graph.astream({"seconds": 30}, config, stream_mode="custom"):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=60)  # guards against a hang, not a speed check
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_store_user_writes_and_reads_the_runtime_store(registry: GraphRegistry) -> None:
    store = InMemoryStore()
    config = thread(user_id="ann")
    async with registry.graph("store_user", config, checkpointer=InMemorySaver(), store=store) as graph:
        result = await graph.ainvoke({"key": "colour", "value": "blue"}, config)
    assert result["read_back"] == {"value": "blue"}
    assert result["item_count"] == 1
    stored = await store.aget(("store_user", "ann"), "colour")
    assert stored is not None and stored.value == {"value": "blue"}


async def test_module_style_graph_runs(registry: GraphRegistry) -> None:
    assert await invoke(registry, "module_style", {"text": "abc"}) == {"text": "ABC"}
