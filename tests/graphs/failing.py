"""A graph whose node raises `ValueError("deliberate failure")`, for error runs.

`builder` (the uncompiled StateGraph) is exported too, for tests of StateGraph entries.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

ERROR_MESSAGE = "deliberate failure"


class State(TypedDict, total=False):
    value: str


def explode(state: State) -> State:
    raise ValueError(ERROR_MESSAGE)


builder = StateGraph(State)
builder.add_node("explode", explode)
builder.add_edge(START, "explode")
builder.add_edge("explode", END)
graph = builder.compile()
