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
