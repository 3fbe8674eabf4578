"""The graphs `aegra init` writes, imported the way the server imports them and run in-process,
with no OPENAI_API_KEY: the local fallback model must answer, call tools, and use the store."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from aegra.cli.init import create_project
from aegra.config import load_settings
from aegra.graphs import GraphRegistry

FALLBACK_LABEL = "[local fallback model]"
USER = {"configurable": {"user_id": "ada"}}


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # Loading a project puts its src/ folder first on sys.path; keep that to this test.
    monkeypatch.setattr(sys, "path", sys.path.copy())


@asynccontextmanager
async def project_graph(root: Path, template: str, store: BaseStore | None = None) -> AsyncIterator[Pregel]:
    """Create a project in `root` and load its graph through Aegra's registry."""
    project = create_project(root, sqlite=True, template=template, name=None, force=False)
    settings = load_settings({}, cwd=root)
    registry = GraphRegistry.load(settings.config, settings.base_dir)
    async with registry.graph(project.template.graph_id, store=store) as graph:
        yield graph


def last_text(result: dict[str, Any]) -> str:
    return result["messages"][-1].text


def fallback_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "fallback" in r.getMessage()]


async def test_chatbot_answers_with_the_labelled_fallback_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with project_graph(tmp_path, "chatbot") as graph:
        first = await graph.ainvoke({"messages": [("user", "Hello there")]})
        second = await graph.ainvoke({"messages": [("user", "Again")]})
    assert last_text(first) == f"{FALLBACK_LABEL} You said: Hello there"
    assert last_text(second) == f"{FALLBACK_LABEL} You said: Again"
    warnings = fallback_warnings(caplog)
    assert len(warnings) == 1 and "OPENAI_API_KEY is not set" in warnings[0]


async def test_chatbot_recalls_what_the_user_said_in_other_conversations(tmp_path: Path) -> None:
    from tests.support.tiny_model import DIMS, embed

    store = InMemoryStore(index={"embed": embed, "dims": DIMS})

    def config(user: str, thread: str) -> dict[str, Any]:
        return {"configurable": {"user_id": user, "thread_id": thread}}

    async with project_graph(tmp_path, "chatbot", store) as graph:
        first = await graph.ainvoke({"messages": [("user", "My cat is called Tom")]}, config("ada", "t1"))
        later = await graph.ainvoke({"messages": [("user", "What is my cat called?")]}, config("ada", "t2"))
        other_user = await graph.ainvoke({"messages": [("user", "What is my cat called?")]}, config("bob", "t3"))
    assert last_text(first) == f"{FALLBACK_LABEL} You said: My cat is called Tom"  # nothing known yet
    assert "I remember: They said: My cat is called Tom" in last_text(later)
    assert "I remember" not in last_text(other_user)
    saved = store.search(("memories", "ada"), query="cat")
    assert saved[0].value == {"text": "My cat is called Tom", "thread_id": "t1"} and saved[0].score is not None


async def test_chatbot_streams_the_fallback_answer_token_by_token(tmp_path: Path) -> None:
    async with project_graph(tmp_path, "chatbot") as graph:
        chunks = [c async for c, _ in graph.astream({"messages": [("user", "one two")]}, stream_mode="messages")]
    assert len(chunks) > 3 and "".join(c.text for c in chunks) == f"{FALLBACK_LABEL} You said: one two"


async def test_react_agent_remembers_through_a_tool_and_recalls_in_a_new_thread(tmp_path: Path) -> None:
    store = InMemoryStore()
    async with project_graph(tmp_path, "react-agent", store) as graph:
        saved = await graph.ainvoke({"messages": [("user", "Remember that I like green tea")]}, USER)
        calls = [m for m in saved["messages"] if getattr(m, "tool_calls", None)]
        assert calls[0].tool_calls[0]["name"] == "remember"
        assert last_text(saved) == (
            f"{FALLBACK_LABEL} remember returned: Saved to memory: Remember that I like green tea"
        )
        # A fresh conversation: the memory comes back from the store, not from the messages.
        recalled = await graph.ainvoke({"messages": [("user", "What do you know about me?")]}, USER)
        other_user = await graph.ainvoke(
            {"messages": [("user", "What do you know about me?")]}, {"configurable": {"user_id": "bob"}}
        )
    assert "I remember: Remember that I like green tea" in last_text(recalled)
    assert "I remember" not in last_text(other_user)
    items = store.search(("memories", "ada"))
    assert [item.value["text"] for item in items] == ["Remember that I like green tea"]


async def test_react_agent_calls_the_time_tool(tmp_path: Path) -> None:
    async with project_graph(tmp_path, "react-agent", InMemoryStore()) as graph:
        result = await graph.ainvoke({"messages": [("user", "What time is it?")]}, USER)
    assert last_text(result).startswith(f"{FALLBACK_LABEL} get_current_time returned: 20")


async def test_react_agent_keeps_memories_when_the_embedder_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[list[str]] = []

    def offline_embedder(texts: list[str]) -> list[list[float]]:
        attempts.append(texts)
        raise OSError("cannot download BAAI/bge-small-en-v1.5: no network")

    caplog.set_level(logging.WARNING)
    store = InMemoryStore(index={"embed": offline_embedder, "dims": 384})
    async with project_graph(tmp_path, "react-agent", store) as graph:
        await graph.ainvoke({"messages": [("user", "remember my name is Ada")]}, USER)
        recalled = await graph.ainvoke({"messages": [("user", "who am I?")]}, USER)
    assert "I remember: remember my name is Ada" in last_text(recalled)
    logged = [r.getMessage() for r in caplog.records if "embedding failed" in r.getMessage()]
    assert len(logged) == 1 and "no network" in logged[0]
    # A failed download can take a minute: after the first failure the graph stops trying.
    assert len(attempts) == 1


async def test_react_agent_without_a_store_still_answers(tmp_path: Path) -> None:
    async with project_graph(tmp_path, "react-agent") as graph:
        result = await graph.ainvoke({"messages": [("user", "remember this")]}, USER)
    assert last_text(result) == f"{FALLBACK_LABEL} remember returned: Memory is off: the server has no store"


@pytest.mark.skipif(find_spec("langchain_openai") is not None, reason="needs langchain-openai to be absent")
async def test_a_key_without_langchain_openai_falls_back_with_a_clear_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    caplog.set_level(logging.WARNING)
    async with project_graph(tmp_path, "chatbot") as graph:
        result = await graph.ainvoke({"messages": [("user", "hi")]})
    assert last_text(result) == f"{FALLBACK_LABEL} You said: hi"
    warnings = fallback_warnings(caplog)
    assert len(warnings) == 1 and "pip install langchain-openai" in warnings[0]


async def test_a_key_with_langchain_openai_uses_the_real_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a key, the template asks `langchain_openai.ChatOpenAI` (a stand-in module here: no network)."""
    import types

    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    created: list[dict[str, Any]] = []

    class ChatOpenAI(FakeListChatModel):
        def __init__(self, **kwargs: Any) -> None:
            created.append(kwargs)
            super().__init__(responses=["a real answer"])

    module = types.ModuleType("langchain_openai")
    module.ChatOpenAI = ChatOpenAI  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain_openai", module)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_MODEL", "gpt-test")
    async with project_graph(tmp_path, "chatbot") as graph:
        result = await graph.ainvoke({"messages": [("user", "hi")]})
    assert last_text(result) == "a real answer" and created == [{"model": "gpt-test"}]
