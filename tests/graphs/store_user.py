"""A node that writes `{"value"}` under `key` in the runtime store, then reads it back.

Items go to namespace `("store_user", <configurable.user_id or "anonymous">)`.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    key: str
    value: str
    read_back: dict[str, Any] | None
    item_count: int


async def remember(state: State, config: RunnableConfig, runtime: Runtime) -> State:
    if runtime.store is None:
        raise RuntimeError("store_user needs a store")
    namespace = ("store_user", str(config.get("configurable", {}).get("user_id", "anonymous")))
    await runtime.store.aput(namespace, state["key"], {"value": state.get("value", "")})
    item = await runtime.store.aget(namespace, state["key"])
    items = await runtime.store.asearch(namespace)
    return {"read_back": item.value if item else None, "item_count": len(items)}


builder = StateGraph(State)
builder.add_node("remember", remember)
builder.add_edge(START, "remember")
builder.add_edge("remember", END)
graph = builder.compile()
