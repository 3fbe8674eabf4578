"""Graph drawings and JSON Schemas, in the shapes LangGraph Platform's assistants API returns.

`GET /assistants/{id}/graph` -> `graph_json`, `/schemas` -> `graph_schemas`,
`/subgraphs` -> `subgraph_schemas`. A schema that fails to render becomes `None` (with a
warning) rather than failing the request: one odd state field must not hide the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.pregel import Pregel

logger = logging.getLogger(__name__)

JsonSchema = dict[str, Any]

# Keys LangGraph puts into `configurable` itself; they are not user settings.
_INTERNAL_CONFIG_KEYS = ("__pregel_checkpointer", "__pregel_store", "checkpoint_id", "checkpoint_ns", "thread_id")


def graph_json(graph: Pregel, xray: bool | int = False) -> dict[str, Any]:
    """The drawable graph as JSON (`nodes`, `edges`); `xray` expands subgraphs (an int: that deep).

    Raises `NotImplementedError` for graphs that cannot be drawn.
    """
    drawing = graph.get_graph(xray=xray).to_json()
    for node in drawing.get("nodes", []):
        data = node.get("data")
        if isinstance(data, dict):
            # The Python import path of each node's runnable: internal detail, not part of the API.
            data.pop("id", None)
    return drawing


def graph_schemas(graph: Pregel, graph_id: str | None = None) -> dict[str, Any]:
    """`graph_id` (default: the graph's name) plus the five schemas, as for `/schemas`."""
    return {"graph_id": graph_id if graph_id is not None else graph.name, **_schemas(graph)}


def subgraph_schemas(graph: Pregel, namespace: str | None = None, recurse: bool = False) -> dict[str, Any]:
    """`{namespace: schemas}` for the graph's subgraphs, as for `/subgraphs`.

    `namespace` selects one (`parent|child`; nested ones need `recurse`).
    """
    from langgraph.pregel import Pregel

    return {
        name: _schemas(subgraph)
        for name, subgraph in graph.get_subgraphs(namespace=namespace, recurse=recurse)
        if isinstance(subgraph, Pregel)
    }


def input_jsonschema(graph: Pregel) -> JsonSchema | None:
    """The input schema alone (MCP tools and A2A agents describe assistants by it); None if unrenderable."""
    return _render(graph, "input", graph.get_input_jsonschema)


def _schemas(graph: Pregel) -> dict[str, JsonSchema | None]:
    return {
        "input_schema": input_jsonschema(graph),
        "output_schema": _render(graph, "output", graph.get_output_jsonschema),
        "state_schema": _render(graph, "state", lambda: state_jsonschema(graph)),
        "config_schema": _render(graph, "config", lambda: config_jsonschema(graph)),
        "context_schema": _render(graph, "context", graph.get_context_jsonschema),
    }


def _render(graph: Pregel, kind: str, render: Callable[[], JsonSchema | None]) -> JsonSchema | None:
    try:
        return render()
    except Exception as exc:  # user types can break schema generation in many ways
        reason = " ".join(str(exc).split())  # pydantic errors span lines; keep the log line whole
        logger.warning("Cannot render the %s schema of graph %r: %s", kind, graph.name, reason)
        return None


def state_jsonschema(graph: Pregel) -> JsonSchema:
    """One property per streamed channel, typed by what the channel accepts (`Any` if unrenderable)."""
    from langchain_core.runnables.utils import create_model

    fields: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        update_type = graph.channels[name].UpdateType  # type: ignore[union-attr]  # stream channels are channels
        try:
            create_model(name, __root__=(update_type, None)).model_json_schema()
            fields[name] = (update_type, None)
        except Exception:  # one odd channel type must not hide the others
            fields[name] = (Any, None)
    return create_model(graph.get_name("State"), **fields).model_json_schema()


def config_jsonschema(graph: Pregel) -> JsonSchema:
    """The schema of `configurable`: the graph's context schema without LangGraph's own keys.

    Graphs without a context schema get `{}`.
    """
    from pydantic import TypeAdapter

    context_schema = graph.context_schema
    if context_schema is None:
        return {}
    schema = TypeAdapter(context_schema).json_schema()  # also right for pydantic models
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key in _INTERNAL_CONFIG_KEYS:
            properties.pop(key, None)
    return schema
