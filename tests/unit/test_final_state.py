"""A run's final thread state from its own stream (execution.FinalState) against `aget_state`.

When the stream cannot tell (interrupts, breakpoints, also inside subgraphs, an output schema
narrowing `values`), FinalState must say None so that the state is read back.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

from aegra.domain.runs.execution import FinalState
from aegra.domain.threads.snapshots import thread_summary


class State(TypedDict, total=False):
    message: str
    reply: str


class Output(TypedDict, total=False):
    reply: str


def echo(state: State) -> State:
    return {"reply": f"re: {state.get('message', '')}"}


def asks(state: State) -> State:
    return {"reply": str(interrupt("approve?"))}


def _graph(node: Any = echo, *, output: type | None = None, **compile_args: Any) -> Any:
    builder = StateGraph(State, output_schema=output) if output else StateGraph(State)
    builder.add_node("step", node)
    builder.add_node("after", lambda state: {})
    builder.add_edge(START, "step")
    builder.add_edge("step", "after")
    builder.add_edge("after", END)
    compile_args.setdefault("checkpointer", InMemorySaver())
    return builder.compile(**compile_args)


def _with_subgraph(child: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("child", child)
    builder.add_edge(START, "child")
    builder.add_edge("child", END)
    return builder.compile(checkpointer=InMemorySaver())


async def _final(graph: Any, *, subgraphs: bool = False, **options: Any) -> tuple[Any, dict[str, Any]]:
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    final = FinalState(graph)
    stream = graph.astream({"message": "hi"}, config, stream_mode=list(final.modes), subgraphs=subgraphs, **options)
    async for chunk in stream:
        final.see(chunk, subgraphs)
    return final.summary(), thread_summary(await graph.aget_state(config))


@pytest.mark.parametrize("subgraphs", [False, True])
async def test_a_run_that_ends_gives_the_state_aget_state_reads(subgraphs: bool) -> None:
    for graph in (_graph(), _with_subgraph(_graph(checkpointer=None))):
        summary, read_back = await _final(graph, subgraphs=subgraphs)
        assert summary == read_back
        assert summary["status"] == "idle" and summary["values"]["reply"] == "re: hi"


@pytest.mark.parametrize(
    ("graph", "options", "read_back_status"),
    [
        (_graph(asks), {}, "interrupted"),  # interrupt() in a node
        (_graph(), {"interrupt_before": ["after"]}, "interrupted"),  # a breakpoint asked by the run
        (_graph(interrupt_after=["step"]), {}, "interrupted"),  # a breakpoint compiled in
        (_with_subgraph(_graph(asks, checkpointer=None)), {}, "interrupted"),  # interrupt() inside a subgraph
        (_with_subgraph(_graph(checkpointer=None, interrupt_before=["after"])), {}, "interrupted"),
        (_graph(output=Output), {}, "idle"),  # `values` carry only the output schema's keys
    ],
    ids=["interrupt", "run-breakpoint", "compiled-breakpoint", "subgraph-interrupt", "subgraph-breakpoint", "output"],
)
async def test_the_stream_says_nothing_when_it_cannot_tell(graph: Any, options: dict[str, Any],
                                                          read_back_status: str) -> None:  # fmt: skip
    summary, read_back = await _final(graph, **options)
    assert summary is None
    assert read_back["status"] == read_back_status
