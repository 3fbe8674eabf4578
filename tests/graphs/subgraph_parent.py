"""A parent graph whose `child` node is a compiled subgraph (for xray drawings, subgraph schemas
and `subgraphs=True` streaming).
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class ChildState(TypedDict, total=False):
    prepared: str
    child_result: str


class ParentState(ChildState, total=False):
    topic: str
    result: str


def child_step(state: ChildState) -> ChildState:
    return {"child_result": f"child saw {state.get('prepared', '')}"}


child_builder = StateGraph(ChildState)
child_builder.add_node("child_step", child_step)
child_builder.add_edge(START, "child_step")
child_builder.add_edge("child_step", END)
child = child_builder.compile(name="child")


def prepare(state: ParentState) -> ParentState:
    return {"prepared": f"prepared {state.get('topic', '')}"}


def finish(state: ParentState) -> ParentState:
    return {"result": f"{state.get('child_result', '')}, finished"}


builder = StateGraph(ParentState)
builder.add_node("prepare", prepare)
builder.add_node("child", child)
builder.add_node("finish", finish)
builder.add_edge(START, "prepare")
builder.add_edge("prepare", "child")
builder.add_edge("child", "finish")
builder.add_edge("finish", END)
graph = builder.compile()
