"""Distinct input, output and context schemas: `{"name"}` in, `{"greeting"}` out, and a
dataclass context (`runtime.context`) choosing the punctuation.
"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


@dataclass
class Context:
    punctuation: str = "."
    shout: bool = False


class Input(TypedDict):
    name: str


class Output(TypedDict):
    greeting: str


class State(Input, Output, total=False):
    internal_note: str


def greet(state: State, runtime: Runtime[Context]) -> State:
    context = runtime.context or Context()
    greeting = f"Hello, {state['name']}{context.punctuation}"
    return {"greeting": greeting.upper() if context.shout else greeting, "internal_note": "greeted"}


builder = StateGraph(State, context_schema=Context, input_schema=Input, output_schema=Output)
builder.add_node("greet", greet)
builder.add_edge(START, "greet")
builder.add_edge("greet", END)
graph = builder.compile()
