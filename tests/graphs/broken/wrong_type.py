"""Attributes that are not graphs: a number, a class, a factory with too many arguments, and a
factory that returns something that is not a graph.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

number = 42


class NotAGraph(TypedDict):
    value: str


def two_argument_factory(config: object, other: object) -> None:
    return None


def factory_returning_string() -> str:
    return "not a graph"


# Not compilable (no entry point): a StateGraph entry that fails at compile time.
uncompilable = StateGraph(NotAGraph)
uncompilable.add_node("orphan", lambda state: state)

# A valid graph in the same file, so "missing attribute" errors can suggest it.
_builder = StateGraph(NotAGraph)
_builder.add_node("noop", lambda state: state)
_builder.add_edge(START, "noop")
_builder.add_edge("noop", END)
valid_graph = _builder.compile()
