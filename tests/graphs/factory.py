"""Graph factories, called per run with the run's config.

The graph they build greets with `configurable.greeting` (default `hello`), read when the
factory runs, so a test can tell the factory saw the run's config.
`LIFECYCLE` records the context-manager variant's enter and exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

LIFECYCLE: list[str] = []


class State(TypedDict, total=False):
    name: str
    greeting: str


def build(greeting: str) -> StateGraph:
    def greet(state: State) -> State:
        return {"greeting": f"{greeting}, {state.get('name', 'world')}"}

    builder = StateGraph(State)
    builder.add_node("greet", greet)
    builder.add_edge(START, "greet")
    builder.add_edge("greet", END)
    return builder


def _greeting(config: RunnableConfig) -> str:
    return str(config.get("configurable", {}).get("greeting", "hello"))


async def make_graph(config: RunnableConfig) -> CompiledStateGraph:
    return build(_greeting(config)).compile()


def make_graph_sync(config: RunnableConfig) -> StateGraph:
    """Returns the builder uncompiled: the loader compiles it."""
    return build(_greeting(config))


def make_graph_without_config() -> CompiledStateGraph:
    return build("hi").compile()


@asynccontextmanager
async def graph_context(config: RunnableConfig) -> AsyncIterator[CompiledStateGraph]:
    greeting = _greeting(config)
    LIFECYCLE.append(f"enter {greeting}")
    try:
        yield build(greeting).compile()
    finally:
        LIFECYCLE.append(f"exit {greeting}")


@contextmanager
def graph_sync_context(config: RunnableConfig) -> Iterator[CompiledStateGraph]:
    yield build(_greeting(config)).compile()
