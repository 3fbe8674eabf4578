"""`client.threads.*` (threads themselves: CRUD, search, count, copy, prune) against a real server,
on SQLite and PostgreSQL. State and history are in test_threads_state.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.support.projects import write_project
from tests.support.server import RunningServer, granian_server

THREAD_FIELDS = {
    "thread_id", "created_at", "updated_at", "state_updated_at", "metadata", "config", "status", "values",
    "interrupts",
}  # fmt: skip


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP, for what the SDK does not show (headers, status codes, invalid bodies)."""
    async with httpx.AsyncClient(base_url=server.url) as raw:
        yield raw


def tag() -> dict[str, str]:
    """Metadata unique to one test, so tests sharing a server find only their own threads."""
    return {"test": uuid.uuid4().hex}


async def say(client: LangGraphClient, thread_id: str, *texts: str) -> None:
    """Give an `agent` thread some state and history: one checkpoint per text."""
    for text in texts:
        await client.threads.update_state(thread_id, {"messages": [{"role": "user", "content": text}]}, as_node="chat")


async def test_create_get_and_the_thread_shape(client: LangGraphClient) -> None:
    created = await client.threads.create(metadata={"user": "ann", **tag()})
    assert set(created) == THREAD_FIELDS
    assert uuid.UUID(created["thread_id"]).version == 7, "time-ordered ids, as the official server's"
    assert created["status"] == "idle" and created["values"] is None and created["interrupts"] == {}
    assert created["config"] == {} and created["metadata"]["user"] == "ann"
    assert created["created_at"] == created["updated_at"] == created["state_updated_at"]
    fetched = await client.threads.get(created["thread_id"])
    assert fetched == created

    with_graph = await client.threads.create(graph_id="agent")
    assert with_graph["metadata"] == {"graph_id": "agent"}, "the SDK puts graph_id into metadata"


async def test_explicit_id_and_if_exists(client: LangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    first = await client.threads.create(thread_id=thread_id, metadata={"n": 1})
    assert first["thread_id"] == thread_id
    with pytest.raises(ConflictError):
        await client.threads.create(thread_id=thread_id, metadata={"n": 2})
    same = await client.threads.create(thread_id=thread_id, metadata={"n": 2}, if_exists="do_nothing")
    assert same["metadata"] == {"n": 1}
    assert (await client.threads.get(thread_id))["metadata"] == {"n": 1}


async def test_concurrent_creates_of_one_id(client: LangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    results = await asyncio.gather(
        *(client.threads.create(thread_id=thread_id, metadata={"n": n}) for n in range(5)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, dict)]
    assert len(created) == 1 and all(isinstance(r, ConflictError) for r in results if r not in created)
    thread_id = str(uuid.uuid4())
    same = await asyncio.gather(
        *(client.threads.create(thread_id=thread_id, if_exists="do_nothing", metadata={"n": n}) for n in range(5))
    )
    assert len({t["thread_id"] for t in same}) == 1 and len({t["created_at"] for t in same}) == 1


async def test_ttl_on_create_and_patch(client: LangGraphClient) -> None:
    created = await client.threads.create(ttl=30)
    assert "ttl" not in created
    thread = await client.threads.get(created["thread_id"], include=["ttl"])
    assert thread["ttl"]["ttl_minutes"] == 30 and thread["ttl"]["strategy"] == "delete"
    assert thread["ttl"]["expires_at"] > thread["updated_at"]

    await client.threads.update(created["thread_id"], metadata={}, ttl={"ttl": 5, "strategy": "keep_latest"})
    patched = await client.threads.get(created["thread_id"], include=["ttl"])
    assert patched["ttl"]["ttl_minutes"] == 5 and patched["ttl"]["strategy"] == "keep_latest"
    assert patched["ttl"]["expires_at"] < thread["ttl"]["expires_at"]

    without = await client.threads.create()
    assert "ttl" not in await client.threads.get(without["thread_id"], include=["ttl"])


async def test_patch_merges_metadata_and_can_return_nothing(client: LangGraphClient) -> None:
    created = await client.threads.create(metadata={"a": 1, "b": 1})
    patched = await client.threads.update(created["thread_id"], metadata={"b": 2, "c": 3})
    assert patched["metadata"] == {"a": 1, "b": 2, "c": 3}
    assert patched["updated_at"] > created["updated_at"]
    minimal = await client.threads.update(created["thread_id"], metadata={"d": 4}, return_minimal=True)
    assert minimal is None
    assert (await client.threads.get(created["thread_id"]))["metadata"] == {"a": 1, "b": 2, "c": 3, "d": 4}


async def test_patch_minimal_is_204_without_body(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    created = await client.threads.create()
    answer = await http.patch(
        f"/threads/{created['thread_id']}",
        json={"metadata": {"x": 1}},
        headers={"Prefer": "return=minimal"},
    )
    assert answer.status_code == 204 and answer.content == b""


async def test_delete_removes_the_thread_and_its_checkpoints(client: LangGraphClient) -> None:
    created = await client.threads.create(graph_id="agent")
    thread_id = created["thread_id"]
    await say(client, thread_id, "one", "two")
    await client.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.delete(thread_id)
    # A new thread under the same id starts from nothing: the old checkpoints went with the thread.
    await client.threads.create(thread_id=thread_id, graph_id="agent")
    assert await client.threads.get_history(thread_id) == []
    assert (await client.threads.get_state(thread_id))["values"] == {}


async def test_search_filters(client: LangGraphClient) -> None:
    mark = tag()
    plain = await client.threads.create(metadata={**mark, "kind": "plain"})
    chatty = await client.threads.create(metadata={**mark, "kind": "chatty", "nested": {"x": [1, 2]}}, graph_id="agent")
    await say(client, chatty["thread_id"], "hello")

    async def ids(**filters: Any) -> list[str]:
        return sorted(t["thread_id"] for t in await client.threads.search(**filters))

    assert await ids(metadata=mark) == sorted([plain["thread_id"], chatty["thread_id"]])
    assert await ids(metadata={**mark, "kind": "plain"}) == [plain["thread_id"]]
    assert await ids(metadata={**mark, "nested": {"x": [2]}}) == [chatty["thread_id"]]
    assert await ids(metadata=mark, values={"messages": [{"content": "hello"}]}) == [chatty["thread_id"]]
    assert await ids(metadata=mark, values={"messages": [{"content": "bye"}]}) == []
    assert await ids(metadata=mark, status="idle") == sorted([plain["thread_id"], chatty["thread_id"]])
    assert await ids(metadata=mark, status="busy") == []
    assert await ids(metadata=mark, ids=[plain["thread_id"], str(uuid.uuid4())]) == [plain["thread_id"]]
    assert await ids(ids=[chatty["thread_id"]]) == [chatty["thread_id"]]


async def test_search_sorts_selects_extracts_and_paginates(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    mark = tag()
    made = [(await client.threads.create(metadata={**mark, "i": i}))["thread_id"] for i in range(3)]
    # The first thread is updated last: the default order is updated_at, newest first.
    await client.threads.update(made[0], metadata={"touched": True})
    assert [t["thread_id"] for t in await client.threads.search(metadata=mark)] == [made[0], made[2], made[1]]
    by_created = await client.threads.search(metadata=mark, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in by_created] == made
    by_id = await client.threads.search(metadata=mark, sort_by="thread_id", sort_order="desc")
    assert [t["thread_id"] for t in by_id] == sorted(made, reverse=True)
    by_state = await client.threads.search(metadata=mark, sort_by="state_updated_at", sort_order="asc")
    assert [t["thread_id"] for t in by_state] == made

    selected = await client.threads.search(metadata=mark, select=["thread_id", "metadata"], limit=1)
    assert len(selected) == 1 and set(selected[0]) == {"thread_id", "metadata"}
    extracted = await client.threads.search(
        metadata=mark, sort_by="created_at", sort_order="asc", extract={"i": "metadata.i", "gone": "values.x[0]"}
    )
    assert [t["extracted"] for t in extracted] == [
        {"i": 0, "gone": None},
        {"i": 1, "gone": None},
        {"i": 2, "gone": None},
    ]

    first = await http.post("/threads/search", json={"metadata": mark, "limit": 2})
    assert first.headers["x-pagination-next"] == "2" and first.headers["x-pagination-total"] == "3"
    last = await http.post("/threads/search", json={"metadata": mark, "limit": 2, "offset": 2})
    assert len(last.json()) == 1 and "x-pagination-next" not in last.headers
    assert last.headers["x-pagination-total"] == "3"


async def test_count(client: LangGraphClient) -> None:
    mark = tag()
    await client.threads.create(metadata={**mark, "kind": "a"})
    chatty = await client.threads.create(metadata={**mark, "kind": "b"}, graph_id="agent")
    await say(client, chatty["thread_id"], "hello")
    assert await client.threads.count(metadata=mark) == 2
    assert await client.threads.count(metadata={**mark, "kind": "a"}) == 1
    assert await client.threads.count(metadata=mark, values={"messages": [{"content": "hello"}]}) == 1
    assert await client.threads.count(metadata=mark, status="interrupted") == 0


async def test_copy_copies_metadata_values_and_every_checkpoint(client: LangGraphClient) -> None:
    source = await client.threads.create(metadata={"owner": "ann"}, graph_id="agent")
    source_id = source["thread_id"]
    await say(client, source_id, "one", "two", "three")
    copied = await client.threads.copy(source_id)
    copy_id = copied["thread_id"]
    assert copy_id != source_id
    original = await client.threads.get(source_id)
    for field in ("metadata", "values", "status", "interrupts", "config"):
        assert copied[field] == original[field], field

    def without_thread_id(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def strip(checkpoint: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if checkpoint is None else {k: v for k, v in checkpoint.items() if k != "thread_id"}

        return [
            {**s, "checkpoint": strip(s["checkpoint"]), "parent_checkpoint": strip(s["parent_checkpoint"])}
            for s in states
        ]

    source_history = await client.threads.get_history(source_id, limit=10)
    copy_history = await client.threads.get_history(copy_id, limit=10)
    assert len(copy_history) == 3
    assert without_thread_id(copy_history) == without_thread_id(source_history)
    assert all(s["checkpoint"]["thread_id"] == copy_id for s in copy_history)
    copy_state = await client.threads.get_state(copy_id)
    assert copy_state["values"] == (await client.threads.get_state(source_id))["values"]
    assert [m["content"] for m in copy_state["values"]["messages"]] == ["one", "two", "three"]

    # The copy lives on its own: writing to it leaves the source alone.
    await say(client, copy_id, "four")
    assert len(await client.threads.get_history(source_id, limit=10)) == 3
    assert len(await client.threads.get_history(copy_id, limit=10)) == 4


async def test_prune_delete_and_keep_latest(client: LangGraphClient) -> None:
    doomed = await client.threads.create(graph_id="agent")
    kept = await client.threads.create(graph_id="agent")
    for thread in (doomed, kept):
        await say(client, thread["thread_id"], "one", "two", "three")
    missing = str(uuid.uuid4())

    result = await client.threads.prune([doomed["thread_id"], missing])
    assert result == {"pruned_count": 1}
    with pytest.raises(NotFoundError):
        await client.threads.get(doomed["thread_id"])

    before = await client.threads.get_state(kept["thread_id"])
    result = await client.threads.prune([kept["thread_id"]], strategy="keep_latest")
    assert result == {"pruned_count": 1}
    history = await client.threads.get_history(kept["thread_id"], limit=10)
    assert len(history) == 1
    assert history[0]["checkpoint_id"] == before["checkpoint_id"]
    assert history[0]["values"] == before["values"]
    assert (await client.threads.get(kept["thread_id"]))["values"] == before["values"]
    # The pruned thread still takes updates on top of its kept checkpoint.
    await say(client, kept["thread_id"], "four")
    assert len((await client.threads.get_state(kept["thread_id"]))["values"]["messages"]) == 4

    assert await client.threads.prune([]) == {"pruned_count": 0}


async def test_assistant_delete_with_threads(client: LangGraphClient) -> None:
    assistant = await client.assistants.create("agent", metadata=tag())
    assistant_id = assistant["assistant_id"]
    owned = await client.threads.create(metadata={"assistant_id": assistant_id}, graph_id="agent")
    await say(client, owned["thread_id"], "mine")
    other = await client.threads.create(metadata={"assistant_id": str(uuid.uuid4())})
    await client.assistants.delete(assistant_id, delete_threads=True)
    with pytest.raises(NotFoundError):
        await client.threads.get(owned["thread_id"])
    assert (await client.threads.get(other["thread_id"]))["thread_id"] == other["thread_id"]
    await client.threads.create(thread_id=owned["thread_id"], graph_id="agent")
    assert await client.threads.get_history(owned["thread_id"]) == [], "its checkpoints went too"

    kept_assistant = await client.assistants.create("agent")
    survivor = await client.threads.create(metadata={"assistant_id": kept_assistant["assistant_id"]})
    await client.assistants.delete(kept_assistant["assistant_id"])
    assert (await client.threads.get(survivor["thread_id"]))["thread_id"] == survivor["thread_id"]


# -- bad input: a 4xx with {"detail"}, and nothing stored -------------------------------


def expect(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str)
    for word in words:
        assert word in detail, detail


async def test_bad_ids_and_unknown_threads(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    unknown = str(uuid.uuid4())
    expect(await http.post("/threads", json={"thread_id": "not-a-uuid"}), 422, "Invalid thread ID")
    for method, path in [
        ("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/copy"), ("GET", "/state"), ("GET", "/history"),
        ("POST", "/history"), ("POST", "/state"),
    ]:  # fmt: skip
        body = {} if method in ("POST", "PATCH") else None
        expect(await http.request(method, f"/threads/not-a-uuid{path}", json=body), 422, "Invalid thread ID")
        expect(await http.request(method, f"/threads/{unknown}{path}", json=body), 404, unknown)
    expect(await http.post("/threads/search", json={"ids": ["nope"]}), 422, "Invalid thread ID")
    expect(await http.post("/threads/prune", json={"thread_ids": ["nope"]}), 422, "Invalid thread ID")
    with pytest.raises(NotFoundError):
        await client.threads.get(unknown)


async def test_bad_bodies_are_refused_and_store_nothing(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    mark = tag()
    for body in [
        {"metadata": "not an object"},
        {"metadata": mark, "unknown_field": 1},
        {"metadata": mark, "if_exists": "replace"},
        {"metadata": mark, "ttl": -5},
        {"metadata": mark, "ttl": {"ttl": 5, "strategy": "archive"}},
        {"metadata": mark, "ttl": {"strategy": "delete"}},
    ]:
        expect(await http.post("/threads", json=body), 422)
    assert await client.threads.count(metadata=mark) == 0

    thread = await client.threads.create(metadata={"keep": 1})
    path = f"/threads/{thread['thread_id']}"
    expect(await http.patch(path, json={"metadata": [1, 2]}), 422)
    expect(await http.patch(path, json={"metadata": {"x": 1}, "values": {}}), 422)
    expect(await http.get(path, params={"include": "secrets"}), 422, "include")
    assert (await client.threads.get(thread["thread_id"]))["metadata"] == {"keep": 1}


async def test_bad_search_count_and_prune_requests(http: httpx.AsyncClient) -> None:
    for body in [
        {"sort_by": "name"},
        {"sort_order": "up"},
        {"limit": -1},
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"status": "sleeping"},
        {"select": ["context"]},
        {"metadata": "x"},
        {"values": [1]},
        {"extract": {"thread_id": "values.x"}},
        {"extract": {"x": "secrets.x"}},
        {"extract": {"bad alias": "values.x"}},
        {"extract": {"x": "values.x[abc]"}},
        {"group_by": "status"},
    ]:
        expect(await http.post("/threads/search", json=body), 422)
    expect(await http.post("/threads/count", json={"status": "nope"}), 422)
    expect(await http.post("/threads/count", json={"limit": 5}), 422)
    expect(await http.post("/threads/prune", json={"thread_ids": [], "strategy": "archive"}), 422)
    expect(await http.post("/threads/prune", json={}), 422)


async def test_sdk_raises_on_bad_input(client: LangGraphClient) -> None:
    with pytest.raises(UnprocessableEntityError):
        await client.threads.create(thread_id="my-thread-id")
    with pytest.raises(UnprocessableEntityError):
        await client.threads.search(sort_by="name")  # type: ignore[arg-type]


async def test_configured_default_ttl_applies_to_new_threads(tmp_path: Path) -> None:
    config = {
        "graphs": {"agent": "./graph.py:graph"},
        "checkpointer": {"ttl": {"default_ttl": 30, "strategy": "delete"}},
    }
    write_project(tmp_path, config)
    with granian_server(tmp_path) as running:
        client = get_client(url=running.url)
        thread = await client.threads.create()
        ttl = (await client.threads.get(thread["thread_id"], include=["ttl"]))["ttl"]
        assert ttl["ttl_minutes"] == 30 and ttl["strategy"] == "delete" and ttl["expires_at"]
        own = await client.threads.create(ttl={"ttl": 5, "strategy": "keep_latest"})
        assert (await client.threads.get(own["thread_id"], include=["ttl"]))["ttl"]["strategy"] == "keep_latest"
