"""LangGraph's `RemoteGraph` against a real server, on SQLite and PostgreSQL: a deployed graph
used like a local one (invoke, stream, state, history, update, interrupt and resume) and as a
node of a local graph.
"""

from __future__ import annotations

import uuid

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command

from tests.support.server import RunningServer


def on_thread(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def hello(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}]}


async def test_a_remote_graph_works_like_a_local_one(server: RunningServer) -> None:
    remote = RemoteGraph("agent", url=server.url)
    config = on_thread(str(uuid.uuid4()))  # a thread the server has not seen: it is created

    result = await remote.ainvoke(hello("hi"), config)
    assert [m["content"] for m in result["messages"]] == ["hi", "You said: hi"]
    state = await remote.aget_state(config)
    assert state.next == () and len(state.values["messages"]) == 2
    assert len([snapshot async for snapshot in remote.aget_state_history(config)]) == 3

    parts = [part async for part in remote.astream(hello("yo"), config, stream_mode=["updates", "messages"])]
    tokens = [part.data[0]["content"] for part in parts if part.event == "messages"]
    assert "".join(tokens) == "You said: yo" and len(tokens) > 1
    assert [list(part.data) for part in parts if part.event == "updates"] == [["chat"]]

    updated = await remote.aupdate_state(config, hello("edited"))
    assert updated["configurable"]["checkpoint_id"]
    assert (await remote.aget_state(config)).values["messages"][-1]["content"] == "edited"
    assert list((await remote.aget_graph()).nodes) == ["__start__", "chat", "__end__"]


async def test_a_remote_graph_interrupts_and_resumes(server: RunningServer) -> None:
    remote = RemoteGraph("interrupting", url=server.url)
    config = on_thread(str(uuid.uuid4()))
    first = await remote.ainvoke({"request": "deploy"}, config)
    assert first["__interrupt__"][0]["value"] == {"question": "Approve deploy?"}
    assert (await remote.aget_state(config)).next == ("review",)
    assert await remote.ainvoke(Command(resume="yes"), config) == {
        "request": "deploy", "answer": "yes", "result": "deploy: yes"
    }  # fmt: skip


async def test_a_remote_graph_as_a_node_of_a_local_graph(server: RunningServer) -> None:
    builder = StateGraph(MessagesState)
    builder.add_node("remote", RemoteGraph("agent", url=server.url))
    builder.add_edge(START, "remote")
    local = builder.compile(checkpointer=InMemorySaver())
    config = on_thread(str(uuid.uuid4()))

    chunks = [chunk async for chunk in local.astream(hello("hi"), config, stream_mode="updates", subgraphs=True)]
    namespaces = [namespace for namespace, _ in chunks]
    assert namespaces[-1] == () and any(ns and ns[0].startswith("remote:") for ns in namespaces), namespaces
    assert chunks[-1][1]["remote"]["messages"][-1]["content"] == "You said: hi"
    state = await local.aget_state(config)
    assert [m.content for m in state.values["messages"]] == ["hi", "You said: hi"]
