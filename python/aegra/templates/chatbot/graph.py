"""A chatbot that remembers: one node that sends the conversation to the chat model, with what the
user said in earlier conversations that relates to the new message.

Every message the user sends is saved to the server's store (memory.py); before answering, the
ones most related to the new message, from the user's other conversations, are put into the
prompt. `store.index` in aegra.json makes that a semantic search (local embeddings); without an
index they are the latest ones, and without a store the chatbot simply has no memory.
"""

from __future__ import annotations

from langchain_core.messages import SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime

from .memory import recall_memories, save_memory
from .models import CONTEXT_HEADER, chat_model

SYSTEM_PROMPT = "You are a helpful, concise assistant."


async def chat(state: MessagesState, config: RunnableConfig, runtime: Runtime) -> dict:
    messages = state["messages"]
    said = messages[-1].text if messages else ""
    thread_id = (config.get("configurable") or {}).get("thread_id")
    # This conversation's own messages are in `messages` already: recall the other ones.
    earlier = await recall_memories(runtime.store, config, query=said, exclude={"thread_id": thread_id})
    prompt = SYSTEM_PROMPT
    if earlier:
        prompt += f"\n\n{CONTEXT_HEADER}\n" + "\n".join(f"- They said: {text}" for text in earlier)
    answer = await chat_model().ainvoke([SystemMessage(prompt), *messages])
    if said and runtime.store is not None:
        await save_memory(runtime.store, config, said, thread_id=thread_id)
    return {"messages": [answer]}


builder = StateGraph(MessagesState)
builder.add_node("chat", chat)  # type: ignore[call-overload]  # a node may take config and runtime both
builder.add_edge(START, "chat")
builder.add_edge("chat", END)
graph = builder.compile()
