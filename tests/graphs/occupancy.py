"""Counts the runs executing this graph at once in the server process: each run stays `seconds`
(input, default 0.3) and returns the most it saw running together, itself included.
"""

from __future__ import annotations

import asyncio

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

STEP_SECONDS = 0.02
_executing = 0


class State(TypedDict, total=False):
    seconds: float
    most_at_once: int


async def occupy(state: State) -> State:
    global _executing
    _executing += 1
    most = _executing
    try:
        for _ in range(max(1, round(state.get("seconds", 0.3) / STEP_SECONDS))):
            await asyncio.sleep(STEP_SECONDS)
            most = max(most, _executing)
    finally:
        _executing -= 1
    return {"most_at_once": most}


builder = StateGraph(State)
builder.add_node("occupy", occupy)
builder.add_edge(START, "occupy")
builder.add_edge("occupy", END)
graph = builder.compile()
