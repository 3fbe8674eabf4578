"""A ReAct agent: the model answers or calls tools, in a loop, and recalls what it knows about
the user from the store (long-term memory shared across threads) before every answer."""

from __future__ import annotations

from langchain_core.messages import SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.runtime import Runtime

from .memory import recall_memories
from .models import CONTEXT_HEADER, chat_model
from .tools import FALLBACK_TRIGGERS, TOOLS

SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the tools when they help; call `remember` to keep a fact "
    "about the user for later conversations."
)


async def agent(state: MessagesState, config: RunnableConfig, runtime: Runtime) -> dict:
    messages = state["messages"]
    memories = await recall_memories(runtime.store, config, query=messages[-1].text if messages else "")
    prompt = SYSTEM_PROMPT
    if memories:
        prompt += f"\n\n{CONTEXT_HEADER}\n" + "\n".join(f"- {memory}" for memory in memories)
    model = chat_model(TOOLS, fallback_triggers=FALLBACK_TRIGGERS)
    answer = await model.ainvoke([SystemMessage(prompt), *messages])
    return {"messages": [answer]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)  # type: ignore[call-overload]  # a node may take config and runtime both
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)
builder.add_edge("tools", "agent")
graph = builder.compile()
