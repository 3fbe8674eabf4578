"""The benchmark graph: one node that echoes its input, so the server's own cost dominates."""

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    message: str
    reply: str


def echo(state: State) -> State:
    return {"reply": state.get("message", "")}


builder = StateGraph(State)
builder.add_node("echo", echo)
builder.add_edge(START, "echo")
builder.add_edge("echo", END)
graph = builder.compile()
