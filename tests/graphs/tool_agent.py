"""A tool-calling agent on a fake chat model: the model asks for `get_weather`, a ToolNode runs
it, and the model answers from the tool's result, streaming its reply word by word.

The model's turns are scripted from the conversation (a tool call after a user message, an
answer after a tool message), so tests can predict every message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class ToolCallingFakeModel(GenericFakeChatModel):
    """GenericFakeChatModel streams a message's content but drops its tool calls; this one
    streams them as one tool-call chunk, as real providers do."""

    def _stream(self, messages: list[Any], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:  # fmt: skip
        message = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs).generations[0].message
        if not isinstance(message, AIMessage) or not message.tool_calls:
            self.messages = iter([message])  # the parent's _stream draws the scripted reply again
            yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            return
        chunks = [
            {"name": call["name"], "args": json.dumps(call["args"]), "id": call["id"], "index": index}
            for index, call in enumerate(message.tool_calls)
        ]
        chunk = ChatGenerationChunk(message=AIMessageChunk(content="", id=message.id, tool_call_chunks=chunks))
        if run_manager:
            run_manager.on_llm_new_token("", chunk=chunk)
        yield chunk


def _next_turn(state: MessagesState) -> AIMessage:
    last = state["messages"][-1]
    if isinstance(last, ToolMessage):
        return AIMessage(content=f"The weather: {last.content}")
    return AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": str(last.content)},
                                              "id": "call_1", "type": "tool_call"}])  # fmt: skip


async def agent(state: MessagesState) -> dict[str, list[AIMessage]]:
    model = ToolCallingFakeModel(messages=iter([_next_turn(state)]))
    return {"messages": [await model.ainvoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode([get_weather]))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)
builder.add_edge("tools", "agent")
graph = builder.compile()
