"""Loading the graphs named in `aegra.json`, and describing them (drawings, JSON Schemas).

Usage: `registry = GraphRegistry.load(config, base_dir)` at startup, then per run
`async with registry.graph(graph_id, run_config, checkpointer=saver, store=store) as graph:`.
"""

from aegra.graphs.errors import GraphLoadError, GraphNotFoundError
from aegra.graphs.ids import SYSTEM_ASSISTANT_NAMESPACE, system_assistant_id
from aegra.graphs.introspection import graph_json, graph_schemas, input_jsonschema, subgraph_schemas
from aegra.graphs.registry import GraphRegistry

__all__ = [
    "SYSTEM_ASSISTANT_NAMESPACE",
    "GraphLoadError",
    "GraphNotFoundError",
    "GraphRegistry",
    "graph_json",
    "graph_schemas",
    "input_jsonschema",
    "subgraph_schemas",
    "system_assistant_id",
]
