"""A chat graph whose one node calls a fake chat model that streams its reply word by word.

The reply is `You said: <last message>`, so tests can predict it; `messages` stream mode shows
the partial chunks because the model streams.
"""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph


async def chat(state: MessagesState) -> dict[str, list[AIMessage]]:
    last = state["messages"][-1].content if state["messages"] else ""
    # A model per call: the fake model consumes its scripted replies as it goes.
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"You said: {last}")]))
    reply = await model.ainvoke(state["messages"])
    return {"messages": [reply]}


builder = StateGraph(MessagesState)
builder.add_node("chat", chat)
builder.add_edge(START, "chat")
builder.add_edge("chat", END)
graph = builder.compile()
