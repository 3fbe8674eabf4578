"""The chat model this project's graph talks to.

With OPENAI_API_KEY set (and `pip install langchain-openai`), it is OpenAI's chat model
(OPENAI_MODEL, default gpt-4o-mini). Without a key it is the *local fallback model*: a
deterministic fake that echoes you, calls a tool when your message contains the tool's
trigger word, and labels every answer, so the project runs offline (no key, no network)
and nobody mistakes its answers for a real model's.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
FALLBACK_LABEL = "[local fallback model]"
# A system prompt may list what the graph knows under this header; the fallback model quotes it.
CONTEXT_HEADER = "What you know about the user:"


def chat_model(
    tools: Sequence[BaseTool] = (), fallback_triggers: Mapping[str, str] | None = None
) -> Runnable[Any, BaseMessage]:
    """The model with `tools` bound. `fallback_triggers` maps a word to the tool the fallback model
    calls when the user's message contains that word (a real model decides for itself)."""
    base = _base_model()
    if isinstance(base, FallbackChatModel):
        return base.with_tools(tools, fallback_triggers or {})
    return base.bind_tools(tools) if tools else base


@cache
def _base_model() -> BaseChatModel:
    # Chosen on first use, not at import: the server loads .env before the first run, and
    # `aegra validate` imports this module without needing a model at all. Cached, so the
    # choice is logged once.
    if not os.environ.get("OPENAI_API_KEY"):
        logger.warning(
            "OPENAI_API_KEY is not set: answering with the local fallback model (offline, deterministic; its "
            "answers start with %s). Put your key in .env for real answers.",
            FALLBACK_LABEL,
        )
        return FallbackChatModel()
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        logger.warning(
            "OPENAI_API_KEY is set but langchain-openai is not installed (pip install langchain-openai): "
            "answering with the local fallback model (its answers start with %s).",
            FALLBACK_LABEL,
        )
        return FallbackChatModel()
    name = os.environ.get("OPENAI_MODEL") or DEFAULT_OPENAI_MODEL
    logger.info("chat model: OpenAI %s", name)
    return ChatOpenAI(model=name)


class FallbackChatModel(GenericFakeChatModel):
    """Answers computed from the conversation instead of a script, so any chat works offline."""

    # GenericFakeChatModel replays this iterator; replies here are computed, so it stays empty.
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    tools: list[dict[str, Any]] = Field(default_factory=list)  # OpenAI-format tool schemas
    triggers: dict[str, str] = Field(default_factory=dict)  # word -> tool name

    @property
    def _llm_type(self) -> str:
        return "local-fallback"

    def with_tools(self, tools: Sequence[BaseTool], triggers: Mapping[str, str]) -> FallbackChatModel:
        return self.model_copy(update={"tools": [convert_to_openai_tool(t) for t in tools], "triggers": dict(triggers)})

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        if not reply.tool_calls:
            yield from super()._stream(messages, stop, run_manager, **kwargs)  # word by word, via _generate
            return
        # The parent's streaming drops tool calls; send them whole, as one chunk.
        chunks = [
            tool_call_chunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=i)
            for i, call in enumerate(reply.tool_calls)
        ]
        yield ChatGenerationChunk(message=AIMessageChunk(content="", id=reply.id, tool_call_chunks=chunks))

    def _reply(self, messages: Sequence[BaseMessage]) -> AIMessage:
        last = messages[-1] if messages else None
        if isinstance(last, ToolMessage):
            return AIMessage(content=f"{FALLBACK_LABEL} {last.name or 'the tool'} returned: {last.text}")
        text = last.text if last is not None else ""
        call = self._tool_call_for(text, turn=len(messages))
        if call is not None:
            return AIMessage(content="", tool_calls=[call])
        answer = f"{FALLBACK_LABEL} You said: {text}"
        known = _context_lines(messages)
        if known:
            answer += f"\nI remember: {'; '.join(known)}"
        return AIMessage(content=answer)

    def _tool_call_for(self, text: str, turn: int) -> dict[str, Any] | None:
        words = set(re.findall(r"[a-z]+", text.lower()))
        bound = {schema["function"]["name"]: schema["function"] for schema in self.tools}
        for word, tool_name in self.triggers.items():
            if word in words and tool_name in bound:
                args = _args_from_text(bound[tool_name], text)
                return {"name": tool_name, "args": args, "id": f"fallback-{turn}-{tool_name}", "type": "tool_call"}
        return None


def _args_from_text(function: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The whole message goes into the tool's first required text parameter, if it has one."""
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    for name in parameters.get("required") or []:
        if properties.get(name, {}).get("type") == "string":
            return {name: text}
    return {}


def _context_lines(messages: Sequence[BaseMessage]) -> list[str]:
    for message in messages:
        if isinstance(message, SystemMessage) and CONTEXT_HEADER in message.text:
            after = message.text.split(CONTEXT_HEADER, 1)[1]
            return [line[2:].strip() for line in after.splitlines() if line.startswith("- ")]
    return []
