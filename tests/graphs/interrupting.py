"""Human in the loop: `review` interrupts with a question, then `finish` uses the resume value."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    request: str
    answer: str
    result: str


def review(state: State) -> State:
    answer = interrupt({"question": f"Approve {state.get('request', '')}?"})
    return {"answer": str(answer)}


def finish(state: State) -> State:
    return {"result": f"{state.get('request', '')}: {state['answer']}"}


builder = StateGraph(State)
builder.add_node("review", review)
builder.add_node("finish", finish)
builder.add_edge(START, "review")
builder.add_edge("review", "finish")
builder.add_edge("finish", END)
graph = builder.compile()
