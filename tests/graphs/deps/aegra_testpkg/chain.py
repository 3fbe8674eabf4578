"""A one-node graph built from a sibling module through a relative import."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from .nodes import State, shout

builder = StateGraph(State)
builder.add_node("shout", shout)
builder.add_edge(START, "shout")
builder.add_edge("shout", END)
graph = builder.compile()
