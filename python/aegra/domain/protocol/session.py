"""The thread-centric streaming protocol (langgraph-sdk's `client.threads.stream`, its "v3"; the
`langchain-protocol` package types it): a thread's runs as one sequence of protocol events.

A run started through the protocol executes with LangGraph's own protocol stream
(`astream_events(version="v3")`, execution.py), which yields `{"type": "event", "method",
"params": {"namespace", "timestamp", "data"}}` events for `values`, `updates`, `messages` (content
blocks), `tools`, `tasks`, `checkpoints`, `custom` and subgraph `lifecycle`. What LangGraph leaves
to the server is added here, as langgraph-api does: the root `lifecycle` of each run (`running`,
then `completed`, `failed` or `interrupted`), `input.requested` for each interrupt (taken out of
`values`), and per event a `seq` (its place in this thread's sequence, for `since`) and an
`event_id` (stable across connections, for the client's de-duplication).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from aegra.domain.protocol.state import state_payload

# The broker event name a protocol run's events travel under (execution.py publishes them).
PROTOCOL_EVENT = "protocol"
# What a run.start puts in the run's configurable so that it executes with the protocol stream.
PROTOCOL_MARKER = "__event_streaming_v2"
CHANNELS = frozenset({"values", "updates", "messages", "tools", "custom", "lifecycle", "input", "tasks", "checkpoints"})


def is_channel(name: Any) -> bool:
    return isinstance(name, str) and (name in CHANNELS or (name.startswith("custom:") and len(name) > 7))


@dataclass(frozen=True)
class EventFilter:
    """What one event stream asked for: channels, namespace prefixes (None: all) and a depth below them."""

    channels: frozenset[str]
    namespaces: list[list[str]] | None = None
    depth: int | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        method = event["method"]
        channel = "input" if method == "input.requested" else method
        data = event["params"].get("data")
        named = f"custom:{data.get('name')}" if channel == "custom" and isinstance(data, dict) else None
        if channel not in self.channels and named not in self.channels:
            return False
        if self.namespaces is None:
            return True
        namespace = event["params"].get("namespace") or []
        for prefix in self.namespaces:
            if namespace[: len(prefix)] == prefix and (
                self.depth is None or len(namespace) - len(prefix) <= self.depth
            ):
                return True
        return False


@dataclass
class RunSession:
    """The protocol events of one run, from its broker events (in order)."""

    run_id: uuid.UUID
    graph_name: str
    _count: int = 0
    _terminal: bool = False
    _pending_interrupts: set[str] = field(default_factory=set)
    _graph_names: dict[tuple[str, ...], str] = field(default_factory=dict)

    def start(self) -> list[dict[str, Any]]:
        return [self._lifecycle("running")]

    def feed(self, name: str, data: bytes) -> list[dict[str, Any]]:
        if name == "error":
            error = msgspec.json.decode(data)
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            return [self._lifecycle("failed", error=message)]
        if name != PROTOCOL_EVENT:
            return []  # the run's `metadata` event and the like
        event = msgspec.json.decode(data)
        if not isinstance(event, dict) or "method" not in event:
            return []
        params = dict(event.get("params") or {})
        namespace = list(params.get("namespace") or [])
        method = event["method"]
        if method.startswith("custom:"):  # a named custom channel: the protocol's `custom` event, named
            params["data"] = {"name": method[len("custom:") :], "payload": params.get("data")}
            method = "custom"
        out: list[dict[str, Any]] = []
        payload = params.get("data")
        # LangGraph reports a values step's interrupts beside its data; the protocol asks for each.
        requests = [
            {"interrupt_id": item["id"], "payload": item.get("value")}
            for item in params.pop("interrupts", None) or ()
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]
        # The step that stopped at an interrupt repeats the values that went out already: only its
        # interrupts are news.
        repeated = bool(requests) and method == "values"
        if method == "lifecycle" and isinstance(payload, dict) and "namespace" in payload:
            # A subgraph's lifecycle: LangGraph names the subgraph in the data; the protocol event is its.
            namespace = list(payload["namespace"] or [])
            key = tuple(namespace)
            if isinstance(payload.get("graph_name"), str):
                self._graph_names[key] = payload["graph_name"]
            lifecycle = dict(payload)
            if key in self._graph_names:
                lifecycle.setdefault("graph_name", self._graph_names[key])
            params["data"] = lifecycle
        if method == "messages" and isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], dict):
            params["data"] = payload[0]  # LangGraph's (event, metadata) pair: the protocol sends the event
        if method in ("values", "updates"):
            params["data"] = state_payload(payload)
        if repeated:
            params = {}
        if method in ("values", "updates") and isinstance(payload, dict) and "__interrupt__" in payload:
            requests += [
                {"interrupt_id": item["id"], "payload": item.get("value")}
                for item in payload["__interrupt__"] or ()
                if isinstance(item, dict) and isinstance(item.get("id"), str)
            ]
            if method == "updates" and not params["data"]:
                params = {}
        if params:
            out.append(self._event(method, namespace, params))
        fresh = [r for r in requests if r["interrupt_id"] not in self._pending_interrupts]
        for request in fresh:
            self._pending_interrupts.add(request["interrupt_id"])
            out.append(self._event("input.requested", namespace, {"namespace": namespace, "data": request}))
        if fresh and not self._terminal:
            out.append(self._lifecycle("interrupted"))
        return out

    def end(self) -> list[dict[str, Any]]:
        """When the run's events end: its terminal lifecycle, unless one went out already."""
        return [] if self._terminal else [self._lifecycle("completed")]

    def _lifecycle(self, status: str, **extra: Any) -> dict[str, Any]:
        if status in ("completed", "failed", "interrupted"):
            self._terminal = True
        data = {"event": status, "graph_name": self.graph_name, **extra}
        return self._event("lifecycle", [], {"namespace": [], "data": data})

    def _event(self, method: str, namespace: list[str], params: dict[str, Any]) -> dict[str, Any]:
        self._count += 1
        params = {"timestamp": int(time.time() * 1000), **params, "namespace": namespace}
        return {"type": "event", "event_id": f"{self.run_id}:{self._count}", "method": method, "params": params}


async def sequenced(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """Each event with its `seq`: its place in the whole sequence, whatever a stream then filters."""
    seq = 0
    async for event in events:
        seq += 1
        yield {**event, "seq": seq}


def wanted(event: dict[str, Any], event_filter: EventFilter, since: int | None) -> bool:
    """Whether a sequenced event goes to a stream with this filter that has seen up to `since`."""
    return (since is None or event["seq"] > since) and event_filter.matches(event)


async def numbered(events: AsyncIterator[dict[str, Any]], event_filter: EventFilter,
                   since: int | None) -> AsyncIterator[dict[str, Any]]:  # fmt: skip
    """The sequenced events one stream asked for: filtered, and only after `since`."""
    async for event in sequenced(events):
        if wanted(event, event_filter, since):
            yield event


class FilterError(ValueError):
    """A stream filter that is not one (the SSE body answers 400, a socket's subscribe an error)."""


def parse_filter(body: Any, subject: str) -> tuple[EventFilter, int | None]:
    """The filter `{"channels", "namespaces"?, "depth"?, "since"?}` asks for, and its `since`.

    `subject` names what carried it in the messages (langgraph-api's wording for the socket's
    `subscription.subscribe`)."""
    channels = body.get("channels") if isinstance(body, dict) else None
    if not isinstance(channels, list) or not channels:
        raise FilterError(f"{subject} requires a non-empty channels array.")
    if not all(is_channel(channel) for channel in channels):
        raise FilterError(f"{subject} received an unsupported channel.")
    assert isinstance(body, dict)
    namespaces = body.get("namespaces")
    if namespaces is not None and not (
        isinstance(namespaces, list)
        and all(isinstance(n, list) and all(isinstance(s, str) for s in n) for n in namespaces)
    ):
        raise FilterError("`namespaces` must be a list of namespaces (lists of strings)")
    depth, since = body.get("depth"), body.get("since")
    for name, value in (("depth", depth), ("since", since)):
        if value is not None and (type(value) is not int or value < 0):
            raise FilterError(f"`{name}` must be a non-negative integer")
    return EventFilter(frozenset(channels), namespaces or None, depth), since
