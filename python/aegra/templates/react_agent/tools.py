"""The agent's tools. Each one is a plain function the model may call by name."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain_core.tools import tool
from langgraph.prebuilt import ToolRuntime

from .memory import save_memory


@tool
async def remember(memory: str, runtime: ToolRuntime) -> str:
    """Save a fact about the user (a preference, a name, a plan) for later conversations."""
    saved = await save_memory(runtime.store, runtime.config, memory)
    return f"Saved to memory: {memory}" if saved else "Memory is off: the server has no store"


@tool
def get_current_time() -> str:
    """The current date and time, in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


TOOLS = [remember, get_current_time]
# Without an API key the local fallback model calls a tool when the message contains its word.
FALLBACK_TRIGGERS = {"remember": "remember", "time": "get_current_time"}
