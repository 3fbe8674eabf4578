"""The example graph `aegra dev` serves from this repository: a chat loop on a local fake
model, so it runs with no API key and no network."""

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import MessagesState, StateGraph


def reply(state: MessagesState) -> dict:
    last = state["messages"][-1].content if state["messages"] else ""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"You said: {last}")]))
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("reply", reply)
builder.add_edge("__start__", "reply")
graph = builder.compile()
