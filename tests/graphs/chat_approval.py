"""A chat graph that asks before it answers: `interrupt({"question": ...})`, then an AI message
quoting the resume value. For the console's chat view (tests/e2e/test_console.py); not in aegra.json.
"""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt


async def answer(state: MessagesState) -> dict[str, list[AIMessage]]:
    last = state["messages"][-1].content if state["messages"] else ""
    verdict = interrupt({"question": f"May I answer '{last}'?"})
    return {"messages": [AIMessage(content=f"Approved ({verdict}): You said: {last}")]}


builder = StateGraph(MessagesState)
builder.add_node("answer", answer)
builder.add_edge(START, "answer")
builder.add_edge("answer", END)
graph = builder.compile()
