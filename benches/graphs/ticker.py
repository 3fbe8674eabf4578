"""A graph that emits a `custom` event every `interval` seconds (input, default 0.01) for `seconds`
(default 30): a run to cancel, whose stream shows the moment it stops."""

import asyncio

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    seconds: float
    interval: float
    ticks: int


async def tick(state: State) -> State:
    write = get_stream_writer()
    interval = state.get("interval", 0.01)
    ticks = 0
    for ticks in range(1, int(state.get("seconds", 30) / interval) + 1):
        await asyncio.sleep(interval)
        write({"tick": ticks})
    return {"ticks": ticks}


builder = StateGraph(State)
builder.add_node("tick", tick)
builder.add_edge(START, "tick")
builder.add_edge("tick", END)
graph = builder.compile()
