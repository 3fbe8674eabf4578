"""From LangGraph's `astream` chunks to the LangGraph Platform's SSE events (langgraph-api's
`stream.py`; langgraph-sdk's `StreamMode`).

- The modes a client asks for are not the modes the graph is asked for: `messages-tuple`
  and `messages` both come from LangGraph's `messages` mode. (LangGraph >= 1.0 puts
  `__interrupt__` into `values` chunks itself, so a `values`-only stream sees interrupts.)
- `messages` (v1) turns LangGraph's `(message chunk, metadata)` pairs into
  `messages/metadata` once per message id, then `messages/partial` with the message
  accumulated so far (or `messages/complete` for a whole message), converted to a message.
- With `stream_subgraphs`, events from inside subgraphs are named `<mode>|<ns1>|<ns2>`.
- `debug` checkpoint events also carry `checkpoint` and `parent_checkpoint` (the SDK's
  `Checkpoint` shape of `config` and `parent_config`), and their tasks a `checkpoint` in place
  of `state`, as langgraph-api sends them.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message

from aegra.domain.threads.snapshots import checkpoint_of

Event = tuple[str, Any]


class StreamTranslator:
    def __init__(self, requested: list[str], *, subgraphs: bool = False) -> None:
        self.requested = set(requested)
        self.subgraphs = subgraphs
        self._messages: dict[str, BaseMessage] = {}

    def graph_modes(self) -> list[str]:
        modes = set()
        for mode in self.requested:
            modes.add("messages" if mode in ("messages", "messages-tuple") else mode)
        return sorted(modes)

    def translate(self, chunk: Any) -> list[Event]:
        if self.subgraphs:
            namespace, mode, data = chunk
        else:
            (mode, data), namespace = chunk, ()
        suffix = "".join(f"|{part}" for part in namespace)
        events: list[Event] = []
        if mode == "messages":
            events.extend(self._messages_events(data, suffix))
        elif mode in self.requested:
            if mode == "debug" and isinstance(data, dict) and data.get("type") == "checkpoint":
                data = {**data, "payload": _debug_checkpoint(data["payload"])}
            events.append((f"{mode}{suffix}", data))
        return events

    def _messages_events(self, data: Any, suffix: str) -> list[Event]:
        if "messages-tuple" in self.requested:
            return [(f"messages{suffix}", list(data))]
        if "messages" not in self.requested:
            return []
        message, metadata = data
        events: list[Event] = []
        key = message.id
        if key in self._messages:
            self._messages[key] = self._messages[key] + message
        else:
            self._messages[key] = message
            events.append(("messages/metadata", {key: {"metadata": metadata}}))
        # The message so far, as a message (`type: "ai"`), not a chunk: what langgraph-api sends.
        # Like it, no `|<namespace>` suffix on these three events, even from a subgraph.
        name = "messages/partial" if isinstance(message, BaseMessageChunk) else "messages/complete"
        events.append((name, [message_chunk_to_message(self._messages[key])]))
        return events


def _debug_checkpoint(payload: Any) -> Any:
    if not isinstance(payload, dict):
        return payload
    tasks = [_debug_task(task) for task in payload.get("tasks") or ()]
    return {
        **payload,
        "checkpoint": checkpoint_of(payload.get("config")),
        "parent_checkpoint": checkpoint_of(payload.get("parent_config")),
        "tasks": tasks,
    }


def _debug_task(task: Any) -> Any:
    state = task.get("state") if isinstance(task, dict) else None
    if not isinstance(state, dict) or not state.get("configurable"):
        return task
    return {**{k: v for k, v in task.items() if k != "state"}, "checkpoint": state["configurable"]}
