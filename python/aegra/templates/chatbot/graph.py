"""A chatbot: one node that sends the conversation to the chat model and appends its answer."""

from __future__ import annotations

from langchain_core.messages import SystemMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from .models import chat_model

SYSTEM_PROMPT = "You are a helpful, concise assistant."


async def chat(state: MessagesState) -> dict:
    answer = await chat_model().ainvoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])
    return {"messages": [answer]}


builder = StateGraph(MessagesState)
builder.add_node("chat", chat)
builder.add_edge(START, "chat")
builder.add_edge("chat", END)
graph = builder.compile()
