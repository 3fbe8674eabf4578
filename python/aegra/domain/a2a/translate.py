"""A2A messages and parts <-> a graph's input and output (LangChain messages as the API returns them).

Incoming: text and file parts become one human message whose id is the A2A `messageId` (a
string when it is one text part, else LangChain content blocks; files keep their base64 or URL,
which is never fetched here); data parts that are objects merge into the input's top level, and
`{"resume": value}` answers an interrupt. Outgoing: human and AI messages with content become
user and agent messages (system and tool messages are internal); the agent's last reply of the
turn is the task's artifact; interrupts are an artifact of data parts.
"""

from __future__ import annotations

import uuid
from typing import Any

from aegra.domain.a2a.wire import ROLE_AGENT, ROLE_USER

_USER_TYPES = frozenset({"human", "humanmessage", "humanmessagechunk", "user"})
_AGENT_TYPES = frozenset({"ai", "aimessage", "aimessagechunk", "assistant"})
_MEDIA_BLOCKS = frozenset({"image", "audio", "video", "file"})


def block_type(media_type: str | None) -> str:
    top = (media_type or "").split("/", 1)[0].lower()
    return top if top in ("image", "audio", "video") else "file"


def file_block(part: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": block_type(part.get("mediaType"))}
    if "raw" in part:
        block["base64"] = part["raw"]
    else:
        block["url"] = part["url"]
    if part.get("mediaType"):
        block["mime_type"] = part["mediaType"]
    if part.get("filename"):
        block["extras"] = {"filename": part["filename"]}
    return block


def human_message(parts: list[dict[str, Any]], message_id: str) -> dict[str, Any] | None:
    """The text and file parts as one human message; None if there are none."""
    content = [p for p in parts if "text" in p or "raw" in p or "url" in p]
    if not content:
        return None
    if len(content) == 1 and "text" in content[0]:
        body: Any = content[0]["text"]
    else:
        body = [{"type": "text", "text": p["text"]} if "text" in p else file_block(p) for p in content]
    return {"role": "human", "content": body, "id": message_id}


def data_of(parts: list[dict[str, Any]]) -> list[Any]:
    return [p["data"] for p in parts if "data" in p]


def text_of(parts: list[dict[str, Any]]) -> str | None:
    texts = [p["text"] for p in parts if "text" in p]
    return "\n".join(texts) if texts else None


# -- outgoing -----------------------------------------------------------------------------


def _label(value: Any) -> str:
    return value.lower().replace("_", "").replace("-", "") if isinstance(value, str) else ""


def a2a_role(message: dict[str, Any]) -> str | None:
    kind = _label(message.get("type")) or _label(message.get("role"))
    if kind in _USER_TYPES:
        return ROLE_USER
    if kind in _AGENT_TYPES:
        return ROLE_AGENT
    return None  # system, tool, function messages stay inside


def content_parts(content: Any) -> list[dict[str, Any]]:
    """LangChain content (a string or blocks) as A2A parts: text runs joined, media as files."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        return [{"text": str(content)}]
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block, dict) and block.get("type") in _MEDIA_BLOCKS:
            if texts:
                parts.append({"text": "".join(texts)})
                texts = []
            parts.append(_file_part(block))
    if texts and "".join(texts):
        parts.append({"text": "".join(texts)})
    return parts


def _file_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("base64") or block.get("data")
    part: dict[str, Any] = {"raw": source} if isinstance(source, str) else {"url": str(block.get("url") or "")}
    if block.get("mime_type"):
        part["mediaType"] = block["mime_type"]
    filename = block.get("filename") or (block.get("extras") or {}).get("filename")
    if filename:
        part["filename"] = filename
    return part


def a2a_messages(messages: Any, task_id: str, context_id: str) -> list[dict[str, Any]]:
    """A thread's messages as A2A history: user and agent messages that say something."""
    out: list[dict[str, Any]] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict) or (role := a2a_role(message)) is None:
            continue
        parts = content_parts(message.get("content"))
        if not parts:
            continue  # an AI message that only calls tools
        out.append({
            "messageId": str(message.get("id") or uuid.uuid4()), "role": role, "parts": parts,
            "taskId": task_id, "contextId": context_id,
        })  # fmt: skip
    return out


def reply_parts(values: Any) -> list[dict[str, Any]]:
    """The agent's answer: its last reply after the last user message, else the output as data."""
    messages = values.get("messages") if isinstance(values, dict) else None
    if isinstance(messages, list) and messages:
        for message in reversed(messages):
            if not isinstance(message, dict):
                continue
            role = a2a_role(message)
            if role == ROLE_USER:
                break
            if role == ROLE_AGENT and (parts := content_parts(message.get("content"))):
                return parts
        return [{"text": ""}]
    return [{"data": values if values is not None else {}}]


def response_artifact(values: Any, assistant_id: str) -> dict[str, Any]:
    return {
        "artifactId": str(uuid.uuid4()),
        "name": "Assistant Response",
        "description": f"Response from assistant {assistant_id}",
        "parts": reply_parts(values),
    }


def interrupt_artifact(interrupts: list[Any]) -> dict[str, Any]:
    parts = [
        {"data": {"id": i.get("id"), "value": i.get("value")} if isinstance(i, dict) else {"value": i}}
        for i in interrupts
    ]
    return {
        "artifactId": str(uuid.uuid4()),
        "name": "Interrupt",
        "description": "Agent requires input to continue",
        "parts": parts,
    }


def agent_message(parts: list[dict[str, Any]], task_id: str, context_id: str) -> dict[str, Any]:
    return {"messageId": str(uuid.uuid4()), "role": ROLE_AGENT, "parts": parts, "taskId": task_id,
            "contextId": context_id}  # fmt: skip
