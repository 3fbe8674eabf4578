"""Assistants as MCP tools: a valid tool name, and an `inputSchema` an LLM can fill in.

Tool names follow the 2025-11-25 rule (1-128 of `A-Za-z0-9_-.`), made from the assistant's
name as langgraph-api does, so a client sees the same tool names on either server.
"""

from __future__ import annotations

import copy
import re
from typing import Any

MAX_TOOL_NAME = 128
_WHITESPACE = re.compile(r"\s+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.\-]")

# The LangChain message classes (and the types only they use) that a MessagesState input schema
# pulls into `$defs`: a model cannot usefully fill them in, so such a field becomes one string,
# the user's message (LangGraph's `add_messages` turns a string into a HumanMessage).
_MESSAGE_TYPES = frozenset(
    f"{role}{suffix}"
    for role in ("AIMessage", "HumanMessage", "ChatMessage", "SystemMessage", "FunctionMessage", "ToolMessage")
    for suffix in ("", "Chunk")
)
_MESSAGE_SUPPORT_TYPES = frozenset(
    {"ToolCall", "ToolCallChunk", "InvalidToolCall", "UsageMetadata", "InputTokenDetails", "OutputTokenDetails"}
)
_REF_PREFIX = "#/$defs/"

ANNOTATIONS = {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": True}


def tool_name(assistant_name: str) -> str:
    """Whitespace runs become `_`, other characters outside the allowed set go, then truncate."""
    name = _WHITESPACE.sub("_", assistant_name.strip())
    return _NOT_ALLOWED.sub("", name)[:MAX_TOOL_NAME]


def _lists_messages(prop: Any) -> bool:
    if not isinstance(prop, dict) or prop.get("type") != "array":
        return False
    items = prop.get("items")
    if not isinstance(items, dict):
        return False
    for option in items.get("oneOf") or items.get("anyOf") or []:
        ref = option.get("$ref", "") if isinstance(option, dict) else ""
        if ref.startswith(_REF_PREFIX) and ref[len(_REF_PREFIX) :] in _MESSAGE_TYPES:
            return True
    return False


def tool_input_schema(input_schema: dict[str, Any] | None) -> dict[str, Any]:
    """The graph's input JSON Schema as a tool's `inputSchema` (an object schema, as MCP requires)."""
    schema = copy.deepcopy(input_schema) if input_schema else {}
    defs = schema.get("$defs")
    if isinstance(defs, dict) and _MESSAGE_TYPES & defs.keys():
        for name in _MESSAGE_TYPES | _MESSAGE_SUPPORT_TYPES:
            defs.pop(name, None)
        if not defs:
            del schema["$defs"]
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        for key, prop in properties.items():
            if _lists_messages(prop):
                properties[key] = {
                    "type": "string",
                    "title": prop.get("title", key),
                    "description": "The user message to send to the agent.",
                }
    schema.setdefault("type", "object")
    return schema


def tool_for(assistant: dict[str, Any], name: str, input_schema: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": name,
        "title": assistant["name"],
        "description": assistant.get("description") or f"Tool based on the {assistant['name']} assistant",
        "inputSchema": tool_input_schema(input_schema),
        "annotations": ANNOTATIONS,
    }
