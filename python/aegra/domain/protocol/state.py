"""Messages in protocol `values` and `updates` events, in the protocol's message shape
(langchain-protocol): `type` (`ai`, `human`, `system`, `tool`...), `content` (a string, or
content blocks), `id`, and only what a client needs beside (`name`, a non-empty
`response_metadata`, a tool message's `tool_call_id`/`status`/`artifact`, an AI message's
`tool_calls` as `{"type": "tool_call", "name", "args", "id"}` and its `invalid_tool_calls`).
LangChain's own fields (`additional_kwargs`, empty metadata, `usage_metadata`...) are left out,
as langgraph-api leaves them out.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_TYPES = {"human": "human", "user": "human", "ai": "ai", "assistant": "ai", "system": "system",
                 "tool": "tool", "function": "function", "remove": "remove"}  # fmt: skip
BLOCK_TYPES = frozenset({
    "text", "reasoning", "tool_call", "tool_call_chunk", "invalid_tool_call", "server_tool_call",
    "server_tool_call_chunk", "server_tool_call_result", "image", "audio", "video", "file", "text-plain",
    "non_standard",
})  # fmt: skip


def state_payload(value: Any) -> Any:
    """A `values` or `updates` payload with its messages in the protocol's shape (recursively)."""
    if isinstance(value, list):
        return [_message(item) if _is_message(item) else state_payload(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: [_message(item) if _is_message(item) else item for item in entry]
        if key == "messages" and isinstance(entry, list)
        else state_payload(entry)
        for key, entry in value.items()
        if key != "__interrupt__"
    }


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in MESSAGE_TYPES


def _content(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    blocks: list[dict[str, Any]] = []
    for entry in content:
        if isinstance(entry, str):
            blocks.append({"type": "text", "text": entry})
        elif isinstance(entry, dict) and isinstance(entry.get("type"), str):
            blocks.append(entry if entry["type"] in BLOCK_TYPES else {"type": "non_standard", "value": entry})
    return blocks or content


def _message(value: dict[str, Any]) -> dict[str, Any]:
    kind = MESSAGE_TYPES[value["type"]]
    message: dict[str, Any] = {"type": kind, "content": _content(value.get("content", ""))}
    for key in ("id", "name"):
        if isinstance(value.get(key), str):
            message[key] = value[key]
    if kind in ("ai", "human") and isinstance(value.get("example"), bool):
        message["example"] = value["example"]
    if isinstance(value.get("response_metadata"), dict) and value["response_metadata"]:
        message["response_metadata"] = value["response_metadata"]
    if kind == "tool":
        if isinstance(value.get("tool_call_id"), str):
            message["tool_call_id"] = value["tool_call_id"]
        if value.get("status") in ("success", "error"):
            message["status"] = value["status"]
        if "artifact" in value:
            message["artifact"] = value["artifact"]
    if kind == "ai":
        calls, invalid = _tool_calls(value.get("tool_calls") or [])
        given = [raw for raw in value.get("invalid_tool_calls") or [] if isinstance(raw, dict)]
        invalid += [_invalid(raw, raw.get("error") or "Malformed args.") for raw in given]
        if calls:
            message["tool_calls"] = calls
        if invalid:
            message["invalid_tool_calls"] = invalid
    return message


def _tool_calls(raw_calls: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    calls, invalid = [], []
    for raw in raw_calls:
        if not isinstance(raw, dict):
            continue
        if not isinstance(raw.get("name"), str):
            invalid.append(_invalid(raw, "Incomplete tool call."))
            continue
        args = raw.get("args")
        if isinstance(args, str):
            try:
                args = json.loads(args) if args else {}
            except ValueError:
                invalid.append(_invalid(raw, "Malformed args."))
                continue
        call = {"type": "tool_call", "name": raw["name"], "args": {} if args is None else args}
        if isinstance(raw.get("id"), str):
            call["id"] = raw["id"]
        calls.append(call)
    return calls, invalid


def _invalid(raw: dict[str, Any], error: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "invalid_tool_call", "error": error}
    for key in ("id", "name"):
        if isinstance(raw.get(key), str):
            entry[key] = raw[key]
    if isinstance(raw.get("args"), str):
        entry["args"] = raw["args"]
    return entry
