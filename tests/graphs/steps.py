"""A graph of `steps` steps (input, default 3), each `seconds` long (default 0.2), that records every
execution of a step: one line `<run_id> <step> <pid> <started> <ended>` appended to the file named by
AEGRA_TEST_STEP_LOG (when set). Tests count the lines to tell which steps ran twice, which process
ran them, and whether two runs of one thread ever overlapped.
"""

from __future__ import annotations

import asyncio
import os
import time

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    steps: int
    seconds: float
    done: int


async def step(state: State, config: RunnableConfig) -> State:
    started = time.time()
    await asyncio.sleep(state.get("seconds", 0.2))
    done = state.get("done", 0) + 1
    log = os.environ.get("AEGRA_TEST_STEP_LOG")
    if log:
        run_id = config["configurable"].get("run_id") or config.get("metadata", {}).get("run_id")
        line = f"{run_id} {done} {os.getpid()} {started:.6f} {time.time():.6f}\n"
        # One short O_APPEND write: lines from several processes stay whole.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    return {"done": done}


def _next(state: State) -> str:
    return END if state.get("done", 0) >= state.get("steps", 3) else "step"


builder = StateGraph(State)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_conditional_edges("step", _next, ["step", END])
graph = builder.compile()
