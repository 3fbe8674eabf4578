"""`client.assistants`: every method, against the official server."""

from __future__ import annotations

import uuid
from typing import Any

from tests.compat.pair import Pair, Side
from tests.compat.test_threads import mark


async def test_create_get_update_versions_delete(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        m = mark(s)
        a = s.sdk.assistants
        created = await a.create(
            "agent", config={"tags": ["t"]}, metadata={"mark": m}, name="first", description="an assistant"
        )
        aid = s.name_id(created["assistant_id"], "assistant")
        given = s.name_id(str(uuid.uuid4()), "given")
        out = {
            "assistants.create": created,
            "assistants.create.with_id": await a.create(
                "custom_schema", assistant_id=given, context={"shout": True}, metadata={"mark": m}
            ),
            "assistants.create.exists_raise": await s.call(a.create("custom_schema", assistant_id=given)),
            "assistants.create.exists_do_nothing": await a.create("agent", assistant_id=given, if_exists="do_nothing"),
            "assistants.create.unknown_graph": await s.call(a.create("no_such_graph")),
            "assistants.create.config_and_context": await s.call(
                a.create("agent", config={"configurable": {"a": 1}}, context={"a": 1})
            ),
            "assistants.get": await a.get(aid),
            "assistants.get.system": await a.get("agent"),
            "assistants.get.unknown": await s.call(a.get(str(uuid.uuid4()))),
            "assistants.update": await a.update(aid, metadata={"v": 2}, name="second"),
            "assistants.update.graph": await a.update(aid, graph_id="interrupting", config={"recursion_limit": 5}),
            "assistants.update.unknown": await s.call(a.update(str(uuid.uuid4()), metadata={})),
            "assistants.get_versions": await a.get_versions(aid),
            "assistants.get_versions.page": await a.get_versions(aid, limit=1, offset=1),
            "assistants.get_versions.metadata": await a.get_versions(aid, metadata={"v": 2}),
            "assistants.set_latest": await a.set_latest(aid, 1),
            "assistants.set_latest.get": await a.get(aid),
            "assistants.set_latest.unknown_version": await s.call(a.set_latest(aid, 99)),
            "assistants.delete": await a.delete(aid),
            "assistants.get.deleted": await s.call(a.get(aid)),
            "assistants.delete.unknown": await s.call(a.delete(str(uuid.uuid4()))),
        }
        thread = await s.sdk.threads.create()
        tid = s.name_id(thread["thread_id"], "thread")
        await s.sdk.runs.wait(tid, given, input={"name": "Ann"})
        out["assistants.delete.delete_threads"] = await a.delete(given, delete_threads=True)
        out["assistants.delete.thread_gone"] = await s.call(s.sdk.threads.get(tid))
        return out

    await pair.run(scenario)


async def test_search_and_count(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        m = mark(s)
        a = s.sdk.assistants
        for n, graph in enumerate(["agent", "agent", "slow", "custom_schema"]):
            created = await a.create(graph, metadata={"mark": m, "n": n}, name=f"name-{n}")
            s.new_id(created["assistant_id"], "assistant")
        return {
            "assistants.search": await a.search(metadata={"mark": m}),
            "assistants.search.graph_id": await a.search(metadata={"mark": m}, graph_id="agent"),
            "assistants.search.name": await a.search(metadata={"mark": m}, name="name-2"),
            "assistants.search.sorted": await a.search(metadata={"mark": m}, sort_by="name", sort_order="asc"),
            "assistants.search.page": await a.search(
                metadata={"mark": m}, limit=2, offset=1, sort_by="name", sort_order="desc"
            ),
            "assistants.search.select": await a.search(
                metadata={"mark": m}, select=["assistant_id", "name"], sort_by="name"
            ),
            "assistants.search.object": await a.search(
                metadata={"mark": m}, limit=3, response_format="object", sort_by="name"
            ),
            "assistants.search.system": await a.search(metadata={"created_by": "system"}, graph_id="agent"),
            "assistants.search.headers": await s.request(
                "POST", "/assistants/search", json={"metadata": {"mark": m}, "limit": 3, "offset": 2}
            ),
            "assistants.search.bad_limit": await s.request("POST", "/assistants/search", json={"limit": 0}),
            "assistants.count": await a.count(metadata={"mark": m}),
            "assistants.count.graph_id": await a.count(metadata={"mark": m}, graph_id="agent"),
            "assistants.count.name": await a.count(metadata={"mark": m}, name="name-1"),
        }

    await pair.run(scenario)


async def test_graph_schemas_subgraphs(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        a = s.sdk.assistants
        return {
            "assistants.get_graph": await a.get_graph("subgraph_parent"),
            "assistants.get_graph.xray": await a.get_graph("subgraph_parent", xray=True),
            "assistants.get_graph.xray_1": await a.get_graph("subgraph_parent", xray=1),
            "assistants.get_graph.bad_xray": await s.request(
                "GET", f"/assistants/{s.name_id(_sys('subgraph_parent'), 'sp')}/graph", params={"xray": "-1"}
            ),
            "assistants.get_schemas": await a.get_schemas("custom_schema"),
            "assistants.get_schemas.agent": await a.get_schemas("agent"),
            "assistants.get_subgraphs": await a.get_subgraphs("subgraph_parent"),
            "assistants.get_subgraphs.recurse": await a.get_subgraphs("subgraph_parent", recurse=True),
            "assistants.get_subgraphs.namespace": await a.get_subgraphs("subgraph_parent", namespace="child"),
            "assistants.get_subgraphs.none": await a.get_subgraphs("agent"),
            "assistants.get_graph.unknown": await s.call(a.get_graph(str(uuid.uuid4()))),
            "assistants.get_schemas.unknown": await s.call(a.get_schemas(str(uuid.uuid4()))),
        }

    await pair.run(scenario)


def _sys(graph_id: str) -> str:
    """A graph's system assistant id (uuid5 of the graph id, the same on both servers)."""
    return str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), graph_id))
