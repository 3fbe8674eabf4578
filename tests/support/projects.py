"""Small Aegra projects written into a temp folder for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRIVIAL_GRAPH = """
from langgraph.graph import MessagesState, StateGraph


def reply(state: MessagesState) -> dict:
    return {"messages": [("ai", "hello")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", reply)
builder.add_edge("__start__", "reply")
graph = builder.compile()
"""


def write_project(folder: Path, config: dict[str, Any] | None = None, name: str = "aegra.json") -> Path:
    """A folder with a trivial graph and a config pointing at it; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "graph.py").write_text(TRIVIAL_GRAPH)
    config = config if config is not None else {"graphs": {"agent": "./graph.py:graph"}}
    path = folder / name
    path.write_text(json.dumps(config))
    return path


def graphs_project(folder: Path, **keys: Any) -> Path:
    """A config file in `folder` serving the shared test graphs (tests/graphs/, by absolute path),
    with `keys` added or replaced (e.g. `webhooks`, `http`); returns its path."""
    from tests.graphs import TEST_GRAPHS_CONFIG, TEST_GRAPHS_DIR

    config = json.loads(TEST_GRAPHS_CONFIG.read_text())
    for graph_id, spec in config["graphs"].items():
        if isinstance(spec, str) and spec.startswith("./"):
            config["graphs"][graph_id] = str(TEST_GRAPHS_DIR / spec)
        elif isinstance(spec, dict) and spec["path"].startswith("./"):
            spec["path"] = str(TEST_GRAPHS_DIR / spec["path"])
    config["dependencies"] = [str(TEST_GRAPHS_DIR / dependency) for dependency in config.get("dependencies", [])]
    config.update(keys)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "aegra.json"
    path.write_text(json.dumps(config))
    return path
