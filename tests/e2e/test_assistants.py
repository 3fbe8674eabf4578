"""`client.assistants.*` of langgraph-sdk against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.support.server import RunningServer

AGENT_SYSTEM_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"  # uuid5(6ba7b821-..., "agent")


def tag() -> dict[str, str]:
    """Metadata unique to one test, so tests sharing a server find only their own assistants."""
    return {"test": uuid.uuid4().hex}


async def test_system_assistants_exist_per_graph(client: LangGraphClient) -> None:
    agent = await client.assistants.get(AGENT_SYSTEM_ID)
    assert agent["graph_id"] == "agent" and agent["name"] == "agent"
    assert agent["metadata"] == {"created_by": "system"}
    assert agent["description"] == "Chat with a fake model that streams its reply"
    by_graph_name = await client.assistants.get("agent")
    assert by_graph_name["assistant_id"] == AGENT_SYSTEM_ID
    system = await client.assistants.search(metadata={"created_by": "system"}, limit=100)
    assert {a["graph_id"] for a in system} >= {"agent", "interrupting", "factory", "slow"}


async def test_create_get_update_versions_and_set_latest(client: LangGraphClient) -> None:
    created = await client.assistants.create(
        "agent", config={"tags": ["x"]}, context={"model": "fake"}, metadata={"v": 1, **tag()}, name="mine",
        description="first",
    )  # fmt: skip
    assert created["version"] == 1 and created["name"] == "mine" and created["description"] == "first"
    assert created["context"] == {"model": "fake"}
    assert created["config"]["configurable"] == {"model": "fake"}, "context mirrors into configurable"
    assistant_id = created["assistant_id"]

    updated = await client.assistants.update(assistant_id, metadata={"v": 2}, name="renamed")
    assert updated["version"] == 2 and updated["name"] == "renamed"
    assert updated["metadata"]["v"] == 2 and "test" in updated["metadata"], "metadata merges"
    assert updated["context"] == {"model": "fake"} and updated["description"] == "first"

    versions = await client.assistants.get_versions(assistant_id)
    assert [v["version"] for v in versions] == [2, 1]
    assert [v["name"] for v in versions] == ["renamed", "mine"]
    only_v1 = await client.assistants.get_versions(assistant_id, metadata={"v": 1})
    assert [v["version"] for v in only_v1] == [1]

    restored = await client.assistants.set_latest(assistant_id, 1)
    assert restored["version"] == 1 and restored["name"] == "mine" and restored["metadata"]["v"] == 1
    assert (await client.assistants.get(assistant_id))["version"] == 1
    again = await client.assistants.update(assistant_id, description="third")
    assert again["version"] == 3, "a new version number follows the highest, not the active one"


async def test_create_with_explicit_id_and_if_exists(client: LangGraphClient) -> None:
    assistant_id = str(uuid.uuid4())
    first = await client.assistants.create("agent", assistant_id=assistant_id, name="one")
    assert first["assistant_id"] == assistant_id
    with pytest.raises(ConflictError):
        await client.assistants.create("agent", assistant_id=assistant_id, name="two")
    same = await client.assistants.create("agent", assistant_id=assistant_id, name="two", if_exists="do_nothing")
    assert same["name"] == "one"


async def test_search_filters_sorts_selects_and_paginates(client: LangGraphClient) -> None:
    mark = tag()
    for name in ("Bravo", "alpha", "charlie"):
        await client.assistants.create("agent", metadata={**mark, "name": name}, name=name)
    await client.assistants.create("interrupting", metadata=mark, name="other-graph")

    by_name = await client.assistants.search(metadata=mark, sort_by="name", sort_order="asc")
    assert [a["name"] for a in by_name] == ["alpha", "Bravo", "charlie", "other-graph"]
    only_agent = await client.assistants.search(metadata=mark, graph_id="agent")
    assert len(only_agent) == 3
    substring = await client.assistants.search(metadata=mark, name="RAV")
    assert [a["name"] for a in substring] == ["Bravo"]
    selected = await client.assistants.search(metadata=mark, select=["assistant_id", "name"], limit=1)
    assert set(selected[0]) == {"assistant_id", "name"}
    assert await client.assistants.count(metadata=mark) == 4
    assert await client.assistants.count(metadata=mark, graph_id="agent") == 3

    page = await client.assistants.search(metadata=mark, limit=3, response_format="object")
    assert len(page["assistants"]) == 3 and page["next"] == "3"
    last = await client.assistants.search(metadata=mark, limit=3, offset=3, response_format="object")
    assert len(last["assistants"]) == 1 and last["next"] is None


async def test_pagination_headers_match_the_reference(server: RunningServer, client: LangGraphClient) -> None:
    mark = tag()
    for _ in range(3):
        await client.assistants.create("agent", metadata=mark)
    async with httpx.AsyncClient(base_url=server.url) as http:
        with_next = await http.post("/assistants/search", json={"metadata": mark, "limit": 2})
        last = await http.post("/assistants/search", json={"metadata": mark, "limit": 2, "offset": 2})
    assert with_next.headers["x-pagination-next"] == "2" and with_next.headers["x-pagination-total"] == "3"
    assert "x-pagination-next" not in last.headers and last.headers["x-pagination-total"] == "3"


async def test_graph_schemas_and_subgraphs(client: LangGraphClient) -> None:
    drawing = await client.assistants.get_graph("agent")
    assert {n["id"] for n in drawing["nodes"]} >= {"__start__", "__end__"}
    schemas = await client.assistants.get_schemas("custom_schema")
    assert schemas["graph_id"] == "custom_schema"
    assert "name" in schemas["input_schema"]["properties"]
    assert "greeting" in schemas["output_schema"]["properties"]
    subgraphs = await client.assistants.get_subgraphs("subgraph_parent")
    assert list(subgraphs) == ["child"]
    one = await client.assistants.get_subgraphs("subgraph_parent", namespace="child")
    assert list(one) == ["child"]
    xray = await client.assistants.get_graph("subgraph_parent", xray=True)
    assert any(":" in n["id"] for n in xray["nodes"]), "xray draws the subgraph's nodes"


async def test_delete(client: LangGraphClient) -> None:
    created = await client.assistants.create("agent")
    await client.assistants.delete(created["assistant_id"])
    with pytest.raises(NotFoundError):
        await client.assistants.get(created["assistant_id"])
    with pytest.raises(NotFoundError):
        await client.assistants.delete(created["assistant_id"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("post", "/assistants", {"graph_id": "no-such-graph"}, 404, "Graph 'no-such-graph' not found"),
        ("post", "/assistants", {"graph_id": "agent", "surprise": 1}, 422, "unknown field `surprise`"),
        ("post", "/assistants", {"graph_id": "agent", "metadata": "x"}, 422, "metadata"),
        ("post", "/assistants", {"graph_id": "agent", "assistant_id": "nope"}, 422, "must be a UUID"),
        ("post", "/assistants", {"graph_id": "agent", "if_exists": "update"}, 422, "if_exists"),
        (
            "post",
            "/assistants",
            {"graph_id": "agent", "config": {"configurable": {"a": 1}}, "context": {"a": 1}},
            400,
            "Cannot specify both configurable and context",
        ),
        ("post", "/assistants/search", {"limit": -1}, 422, "limit"),
        ("post", "/assistants/search", {"limit": 0}, 422, "limit"),
        ("post", "/assistants/search", {"offset": -1}, 422, "offset"),
        ("post", "/assistants/search", {"sort_by": "colour"}, 422, "sort_by"),
        ("post", "/assistants/search", {"select": ["secret"]}, 422, "select"),
        ("post", "/assistants/search", {"graph_id": "no-such-graph"}, 404, "not found"),
        ("get", "/assistants/not-a-uuid", None, 422, "must be a UUID"),
        ("get", f"/assistants/{uuid.uuid4()}", None, 404, "not found"),
        ("patch", f"/assistants/{uuid.uuid4()}", {"name": "x"}, 404, "not found"),
        ("patch", f"/assistants/{AGENT_SYSTEM_ID}", {"graph_id": "no-such-graph"}, 404, "not found"),
        ("post", f"/assistants/{AGENT_SYSTEM_ID}/latest", {"version": 99}, 404, "Version 99 not found"),
        ("post", f"/assistants/{AGENT_SYSTEM_ID}/latest", {}, 422, "version"),
        ("get", "/assistants/agent/graph?xray=-1", None, 422, "Invalid xray value"),
        ("get", "/assistants/agent/graph?xray=deep", None, 422, "Invalid xray value"),
    ],
)
def test_bad_requests_get_clear_errors(
    server: RunningServer, method: str, path: str, body: object, status: int, detail: str
) -> None:
    before = httpx.post(f"{server.url}/assistants/count", json={}).json()
    response = httpx.request(method, f"{server.url}{path}", json=body)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert httpx.post(f"{server.url}/assistants/count", json={}).json() == before, "nothing was stored"


def test_malformed_json_is_422(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.url}/assistants", content=b'{"graph_id": "agent",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "Invalid JSON" in response.json()["detail"]


async def test_sdk_raises_on_validation_errors(client: LangGraphClient) -> None:
    with pytest.raises(UnprocessableEntityError):
        await client.assistants.search(sort_by="colour")  # type: ignore[arg-type]
