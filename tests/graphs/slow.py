"""A node that sleeps `seconds` (input, default 1) in small steps, so a run can be cancelled
mid-way; each step also reports progress on the `custom` stream.
"""

from __future__ import annotations

import asyncio

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

STEP_SECONDS = 0.05


class State(TypedDict, total=False):
    seconds: float
    steps_done: int


async def sleep_in_steps(state: State) -> State:
    steps = max(0, round(state.get("seconds", 1.0) / STEP_SECONDS))
    write = get_stream_writer()
    for step in range(steps):
        await asyncio.sleep(STEP_SECONDS)
        write({"step": step + 1, "of": steps})
    return {"steps_done": steps}


builder = StateGraph(State)
builder.add_node("sleep_in_steps", sleep_in_steps)
builder.add_edge(START, "sleep_in_steps")
builder.add_edge("sleep_in_steps", END)
graph = builder.compile()
