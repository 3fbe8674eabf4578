"""Drawings and schemas in LangGraph Platform's shapes (/graph, /schemas, /subgraphs)."""

from __future__ import annotations

import logging

import pytest
from langgraph.graph import START, StateGraph
from langgraph.pregel import Pregel
from typing_extensions import TypedDict

from aegra.graphs import GraphRegistry, graph_json, graph_schemas, subgraph_schemas
from tests.graphs import load_test_graphs
from tests.graphs.subgraph_parent import ParentState, child
from tests.graphs.subgraph_parent import graph as subgraph_parent

SCHEMA_KEYS = {"input_schema", "output_schema", "state_schema", "config_schema", "context_schema"}


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return load_test_graphs()


async def schemas_of(registry: GraphRegistry, graph_id: str) -> dict:
    async with registry.graph(graph_id) as graph:
        return graph_schemas(graph, graph_id)


def properties(schema: dict | None) -> set[str]:
    assert schema is not None
    return set(schema["properties"])


async def test_distinct_input_output_and_context_schemas(registry: GraphRegistry) -> None:
    schemas = await schemas_of(registry, "custom_schema")
    assert set(schemas) == {"graph_id", *SCHEMA_KEYS}
    assert schemas["graph_id"] == "custom_schema"
    assert properties(schemas["input_schema"]) == {"name"}
    assert properties(schemas["output_schema"]) == {"greeting"}
    assert properties(schemas["state_schema"]) == {"name", "greeting", "internal_note"}
    assert schemas["context_schema"]["title"] == "Context"
    assert schemas["context_schema"]["properties"]["punctuation"] == {
        "default": ".",
        "title": "Punctuation",
        "type": "string",
    }
    assert schemas["config_schema"] == schemas["context_schema"]


async def test_graph_without_context_has_empty_config_schema(registry: GraphRegistry) -> None:
    schemas = await schemas_of(registry, "interrupting")
    assert schemas["config_schema"] == {}
    assert schemas["context_schema"] is None
    assert properties(schemas["state_schema"]) == {"request", "answer", "result"}


async def test_message_graph_schemas_describe_messages(registry: GraphRegistry) -> None:
    schemas = await schemas_of(registry, "agent")
    assert properties(schemas["input_schema"]) == {"messages"}
    assert "AIMessage" in schemas["input_schema"]["$defs"]


async def test_factory_graph_schemas_come_from_a_default_config_instance(registry: GraphRegistry) -> None:
    schemas = await schemas_of(registry, "factory_context")
    assert properties(schemas["state_schema"]) == {"name", "greeting"}


def test_graph_id_defaults_to_the_graph_name() -> None:
    assert graph_schemas(subgraph_parent)["graph_id"] == "LangGraph"


class Opaque:
    """A type pydantic cannot describe."""


def test_unrenderable_schema_becomes_none_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    class State(TypedDict, total=False):
        odd: Opaque
        plain: str

    builder = StateGraph(State)
    builder.add_node("n", lambda state: {})
    builder.add_edge(START, "n")
    with caplog.at_level(logging.WARNING, logger="aegra.graphs.introspection"):
        schemas = graph_schemas(builder.compile(name="odd_graph"))
    assert schemas["input_schema"] is None
    assert schemas["output_schema"] is None
    # The state schema degrades per channel: the odd one becomes "any", the rest stay typed.
    assert schemas["state_schema"]["properties"]["plain"]["type"] == "string"
    assert "type" not in schemas["state_schema"]["properties"]["odd"]
    warnings = [r.getMessage() for r in caplog.records]
    assert any("input schema of graph 'odd_graph'" in w for w in warnings)
    assert all("\n" not in w for w in warnings)


def node_ids(drawing: dict) -> set[str]:
    return {node["id"] for node in drawing["nodes"]}


def test_graph_json_without_xray_shows_the_subgraph_as_one_node() -> None:
    drawing = graph_json(subgraph_parent)
    assert node_ids(drawing) == {"__start__", "prepare", "child", "finish", "__end__"}
    assert {"source": "prepare", "target": "child"} in drawing["edges"]
    # Node data keeps its name but not the Python import path of the runnable.
    for node in drawing["nodes"]:
        assert "id" not in node.get("data", {})
    assert {"id": "prepare", "type": "runnable", "data": {"name": "prepare"}} in drawing["nodes"]


@pytest.mark.parametrize("xray", [True, 1])
def test_graph_json_with_xray_expands_the_subgraph(xray: bool | int) -> None:
    ids = node_ids(graph_json(subgraph_parent, xray=xray))
    assert "child:child_step" in ids
    assert "child" not in ids


def nested() -> Pregel:
    builder = StateGraph(ParentState)
    builder.add_node("outer", subgraph_parent)
    builder.add_edge(START, "outer")
    return builder.compile()


def test_subgraph_schemas_of_direct_subgraphs() -> None:
    found = subgraph_schemas(subgraph_parent)
    assert list(found) == ["child"]
    assert set(found["child"]) == SCHEMA_KEYS
    assert properties(found["child"]["state_schema"]) == {"prepared", "child_result"}


def test_subgraph_schemas_recurse_and_namespace() -> None:
    graph = nested()
    assert list(subgraph_schemas(graph)) == ["outer"]
    assert list(subgraph_schemas(graph, recurse=True)) == ["outer", "outer|child"]
    assert list(subgraph_schemas(graph, namespace="outer|child", recurse=True)) == ["outer|child"]
    assert subgraph_schemas(graph, namespace="missing") == {}
    assert subgraph_schemas(child) == {}
