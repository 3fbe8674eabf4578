"""Thread state and history through langgraph-sdk (`get_state`, `update_state`, `get_history`,
`create(supersteps=...)`) against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import BadRequestError, ConflictError, NotFoundError, UnprocessableEntityError

from aegra.config import database_from_env
from aegra.db.engine import Database
from aegra.db.models import Run
from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.server import RunningServer, granian_server

STATE_FIELDS = {
    "values", "next", "tasks", "metadata", "created_at", "checkpoint", "parent_checkpoint", "interrupts",
    "checkpoint_id", "parent_checkpoint_id",
}  # fmt: skip


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as raw:
        yield raw


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def contents(state: dict[str, Any]) -> list[str]:
    return [m["content"] for m in state["values"].get("messages", [])]


async def agent_thread(client: LangGraphClient, *texts: str) -> str:
    """An `agent` thread with one checkpoint per text (runs do not exist yet: state updates do)."""
    thread_id = (await client.threads.create(graph_id="agent"))["thread_id"]
    for text in texts:
        await client.threads.update_state(thread_id, user(text), as_node="chat")
    return thread_id


async def test_a_thread_without_a_graph_has_an_empty_state(client: LangGraphClient) -> None:
    thread_id = (await client.threads.create(metadata={"no": "graph"}))["thread_id"]
    state = await client.threads.get_state(thread_id)
    assert state == {
        "values": {}, "next": [], "tasks": [], "metadata": None, "created_at": None, "checkpoint": None,
        "parent_checkpoint": None, "interrupts": [], "checkpoint_id": None, "parent_checkpoint_id": None,
    }  # fmt: skip
    assert await client.threads.get_history(thread_id) == []
    with pytest.raises(BadRequestError) as refused:
        await client.threads.update_state(thread_id, user("hi"))
    assert "has no assigned graph ID" in str(refused.value.body)
    assert (await client.threads.get(thread_id))["values"] is None


async def test_update_state_then_read_it(client: LangGraphClient) -> None:
    thread_id = (await client.threads.create(graph_id="agent"))["thread_id"]
    before = await client.threads.get(thread_id)
    written = await client.threads.update_state(thread_id, user("hello"), as_node="chat")
    assert set(written) == {"checkpoint", "configurable", "checkpoint_id"}
    assert written["configurable"] == written["checkpoint"]
    assert written["checkpoint_id"] == written["checkpoint"]["checkpoint_id"]
    assert written["checkpoint"]["thread_id"] == thread_id and written["checkpoint"]["checkpoint_ns"] == ""
    state = await client.threads.get_state(thread_id)
    assert set(state) == STATE_FIELDS
    assert state["checkpoint"] == {**written["checkpoint"]}
    assert state["checkpoint_id"] == written["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint"] is None and state["next"] == [] and state["tasks"] == []
    assert state["metadata"]["source"] == "update" and "checkpoint_ns" not in state["metadata"]
    [message] = state["values"]["messages"]
    assert message["type"] == "human" and message["content"] == "hello" and message["id"]

    second = await client.threads.update_state(thread_id, user("again"), as_node="chat")
    state = await client.threads.get_state(thread_id)
    assert contents(state) == ["hello", "again"]
    assert state["parent_checkpoint"] == written["checkpoint"]
    assert state["parent_checkpoint_id"] == written["checkpoint"]["checkpoint_id"]
    assert state["checkpoint_id"] == second["checkpoint"]["checkpoint_id"]

    thread = await client.threads.get(thread_id)
    assert thread["values"] == state["values"], "the thread mirrors its latest values"
    assert thread["status"] == "idle" and thread["interrupts"] == {}
    assert thread["state_updated_at"] > before["state_updated_at"]


async def test_messages_round_trip_through_the_sdk(client: LangGraphClient) -> None:
    source = await agent_thread(client, "one", "two")
    values = (await client.threads.get_state(source))["values"]
    target = (await client.threads.create(graph_id="agent"))["thread_id"]
    await client.threads.update_state(target, values, as_node="chat")
    assert (await client.threads.get_state(target))["values"] == values


async def test_state_at_a_checkpoint(client: LangGraphClient) -> None:
    thread_id = await agent_thread(client, "one", "two", "three")
    history = await client.threads.get_history(thread_id, limit=10)
    assert [contents(s) for s in history] == [["one", "two", "three"], ["one", "two"], ["one"]]
    middle = history[1]
    by_id = await client.threads.get_state(thread_id, checkpoint_id=middle["checkpoint_id"])
    assert contents(by_id) == ["one", "two"] and by_id["checkpoint"] == middle["checkpoint"]
    by_checkpoint = await client.threads.get_state(thread_id, checkpoint=middle["checkpoint"])
    assert by_checkpoint == by_id
    subgraphs = await client.threads.get_state(thread_id, checkpoint=middle["checkpoint"], subgraphs=True)
    assert contents(subgraphs) == ["one", "two"]


async def test_update_from_an_earlier_checkpoint_forks(client: LangGraphClient) -> None:
    thread_id = await agent_thread(client, "one", "two")
    first = (await client.threads.get_history(thread_id, limit=10))[-1]
    forked = await client.threads.update_state(
        thread_id, user("other"), as_node="chat", checkpoint_id=first["checkpoint_id"]
    )
    state = await client.threads.get_state(thread_id)
    assert state["checkpoint_id"] == forked["checkpoint"]["checkpoint_id"]
    assert contents(state) == ["one", "other"]
    assert state["parent_checkpoint_id"] == first["checkpoint_id"]
    again = await client.threads.update_state(thread_id, user("x"), as_node="chat", checkpoint=first["checkpoint"])
    assert (await client.threads.get_state(thread_id))["parent_checkpoint_id"] == first["checkpoint_id"]
    assert again["checkpoint"]["checkpoint_id"] != forked["checkpoint"]["checkpoint_id"]


async def test_history_limit_before_metadata_and_checkpoint(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    thread_id = await agent_thread(client, "one", "two", "three")
    everything = await client.threads.get_history(thread_id, limit=10)
    assert len(everything) == 3
    assert len(await client.threads.get_history(thread_id, limit=2)) == 2
    newest = everything[0]
    older = await client.threads.get_history(thread_id, limit=10, before=newest["checkpoint_id"])
    assert older == everything[1:]
    assert await client.threads.get_history(thread_id, limit=10, before=newest["checkpoint"]) == everything[1:]
    step_1 = await client.threads.get_history(thread_id, limit=10, metadata={"step": 1})
    assert [s["checkpoint_id"] for s in step_1] == [everything[1]["checkpoint_id"]]
    root = await client.threads.get_history(thread_id, limit=10, checkpoint={"checkpoint_ns": ""})
    assert root == everything

    # The POST body and the GET query both default to one state.
    posted = await http.post(f"/threads/{thread_id}/history", json={})
    assert posted.status_code == 200 and posted.json() == everything[:1]
    got = await http.get(f"/threads/{thread_id}/history")
    assert got.status_code == 200 and got.json() == everything[:1]
    got = await http.get(f"/threads/{thread_id}/history", params={"limit": 5, "before": newest["checkpoint_id"]})
    assert got.json() == everything[1:]


async def test_select_state_fields(client: LangGraphClient) -> None:
    thread_id = await agent_thread(client, "one")
    full = await client.threads.get_state(thread_id)
    picked = await client.threads.get_state(thread_id, select=["next", "checkpoint"])
    assert picked == {"next": full["next"], "checkpoint": full["checkpoint"]}
    only_messages = await client.threads.get_state(thread_id, select=["values.messages"])
    assert only_messages == {"values": {"messages": full["values"]["messages"]}}
    history = await client.threads.get_history(thread_id, select=["values", "metadata"])
    assert history == [{"values": full["values"], "metadata": full["metadata"]}]
    at = await client.threads.get_state(thread_id, checkpoint=full["checkpoint"], select=["values"])
    assert at == {"values": full["values"]}


async def test_next_nodes_make_the_thread_interrupted(client: LangGraphClient) -> None:
    thread_id = (await client.threads.create(graph_id="interrupting", metadata={"t": thread_marker()}))["thread_id"]
    await client.threads.update_state(thread_id, {"request": "leave"}, as_node="__start__")
    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["review"] and state["tasks"][0]["name"] == "review"
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted" and thread["values"] == {"request": "leave"}
    assert [t["thread_id"] for t in await client.threads.search(ids=[thread_id], status="interrupted")] == [thread_id]
    await client.threads.update_state(thread_id, {"answer": "yes"}, as_node="review")
    assert (await client.threads.get(thread_id))["status"] == "interrupted", "finish is still to run"
    await client.threads.update_state(thread_id, {"result": "done"}, as_node="finish")
    assert (await client.threads.get(thread_id))["status"] == "idle"


def thread_marker() -> str:
    return uuid.uuid4().hex


async def test_subgraph_tasks(client: LangGraphClient) -> None:
    thread_id = (await client.threads.create(graph_id="subgraph_parent"))["thread_id"]
    await client.threads.update_state(thread_id, {"topic": "cats"}, as_node="prepare")
    plain = await client.threads.get_state(thread_id)
    [task] = plain["tasks"]
    assert task["name"] == "child" and task["state"] is None
    assert task["checkpoint"]["checkpoint_ns"].startswith("child:")
    nested = await client.threads.get_state(thread_id, subgraphs=True)
    [task] = nested["tasks"]
    assert task["checkpoint"] is None and set(task["state"]) == STATE_FIELDS


async def test_create_with_supersteps(client: LangGraphClient) -> None:
    created = await client.threads.create(
        graph_id="agent",
        supersteps=[
            {"updates": [{"values": user("first"), "as_node": "chat"}]},
            {"updates": [{"values": None, "command": {"update": user("second")}, "as_node": "chat"}]},
        ],
    )
    assert [m["content"] for m in created["values"]["messages"]] == ["first", "second"]
    history = await client.threads.get_history(created["thread_id"], limit=10)
    assert [contents(s) for s in history] == [["first", "second"], ["first"]]


async def test_bad_supersteps_store_nothing(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    mark = {"test": uuid.uuid4().hex}
    steps = [{"updates": [{"values": user("x"), "as_node": "chat"}]}]
    with pytest.raises(BadRequestError):
        await client.threads.create(metadata=mark, supersteps=steps)
    thread_id = str(uuid.uuid4())
    with pytest.raises(BadRequestError):
        await client.threads.create(
            thread_id=thread_id, metadata=mark, graph_id="agent",
            supersteps=[{"updates": [{"values": user("x"), "as_node": "no_such_node"}]}],
        )  # fmt: skip
    assert await client.threads.count(metadata=mark) == 0
    await client.threads.create(thread_id=thread_id, graph_id="agent")
    assert await client.threads.get_history(thread_id) == [], "no checkpoint was left behind"
    answer = await http.post("/threads", json={"supersteps": [{"updates": [{"values": {}}]}], "metadata": mark})
    assert answer.status_code == 422, "as_node is required"


async def test_bad_state_requests(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    thread_id = await agent_thread(client, "one")
    state = await client.threads.get_state(thread_id)
    with pytest.raises(BadRequestError):
        await client.threads.update_state(thread_id, user("x"), as_node="no_such_node")
    with pytest.raises(BadRequestError):
        await client.threads.update_state(thread_id, {"messages": 5}, as_node="chat")
    with pytest.raises(BadRequestError):
        await client.threads.update_state(thread_id, {"messages": [{"no": "role"}]}, as_node="chat")
    assert await client.threads.get_state(thread_id) == state, "a refused update changes nothing"
    with pytest.raises(UnprocessableEntityError):
        await client.threads.get_state(thread_id, select=["everything"])
    with pytest.raises(UnprocessableEntityError):
        await client.threads.get_history(thread_id, select=["values."])
    path = f"/threads/{thread_id}"
    for answer in [
        await http.get(f"{path}/history", params={"limit": -1}),
        await http.get(f"{path}/history", params={"limit": "many"}),
        await http.post(f"{path}/history", json={"limit": 0}),
        await http.post(f"{path}/history", json={"limit": 5, "page": 2}),
        await http.post(f"{path}/state", json={"values": "text"}),
        await http.post(f"{path}/state", json={"values": {}, "as_node": "chat", "run_id": "x"}),
        await http.post(f"{path}/state/checkpoint", json={}),
        await http.post(f"{path}/state/checkpoint", json={"checkpoint": {"checkpoint_id": "x", "other": 1}}),
        await http.get(f"{path}/state", params={"subgraphs": "maybe"}),
    ]:
        assert answer.status_code == 422, (answer.request.url, answer.text)
        assert isinstance(answer.json()["detail"], str)
    assert await client.threads.get_state(thread_id) == state


async def test_a_thread_of_an_unconfigured_graph(client: LangGraphClient) -> None:
    thread_id = (await client.threads.create(graph_id="not_configured"))["thread_id"]
    with pytest.raises(NotFoundError):
        await client.threads.get_state(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.update_state(thread_id, {"x": 1})


# -- with a database of the test's own -----------------------------------------------------


async def test_state_and_history_survive_a_restart(tmp_path: Path, database_url: str) -> None:
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_url}
    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        thread_id = await agent_thread(client, "one", "two")
        state = await client.threads.get_state(thread_id)
        history = await client.threads.get_history(thread_id, limit=10)
        thread = await client.threads.get(thread_id)
    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        assert await client.threads.get_state(thread_id) == state
        assert await client.threads.get_history(thread_id, limit=10) == history
        assert await client.threads.get(thread_id) == thread
        await client.threads.update_state(thread_id, user("three"), as_node="chat")
        assert contents(await client.threads.get_state(thread_id)) == ["one", "two", "three"]


async def test_in_flight_runs_block_updates_and_go_with_the_thread(tmp_path: Path, database_url: str) -> None:
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_url}
    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        thread_id = await agent_thread(client, "one")
        # Runs cannot be created through the API yet: put one straight into the database.
        db = await Database.open(database_from_env({"DATABASE_URL": database_url}, tmp_path))
        run_id = uuid.uuid4()
        try:
            async with db.session() as session:
                now = datetime.now(UTC)
                session.add(
                    Run(
                        run_id=run_id, thread_id=uuid.UUID(thread_id), assistant_id=uuid.uuid4(), status="pending",
                        created_at=now, updated_at=now,
                    )
                )  # fmt: skip
            state = await client.threads.get_state(thread_id)
            with pytest.raises(ConflictError):
                await client.threads.update_state(thread_id, user("two"), as_node="chat")
            assert await client.threads.get_state(thread_id) == state
            await client.threads.delete(thread_id)
            async with db.read_session() as session:
                assert await session.get(Run, run_id) is None
        finally:
            await db.close()
