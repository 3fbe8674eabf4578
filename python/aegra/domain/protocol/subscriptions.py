"""One connection's subscriptions to a thread's protocol events: the `subscription.*` and
`agent.getTree` commands (langgraph-api's session commands).

A WebSocket (`WebSocket /threads/{thread_id}/stream/events`) holds one `Subscriptions` for its
lifetime: the thread's sequenced events go through `deliver`, which sends each at most once, when
any active subscription's filter wants it, and keeps the last REPLAY_LIMIT of them, so that a
subscription made later (or `subscription.reconnect` with a `since`) first gets what it missed.
`POST /threads/{thread_id}/commands` answers these commands with a fresh one, as langgraph-api
answers them from a fresh manager: a subscription that no connection holds, `no_such_run` for what
needs a run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aegra.domain.protocol.session import EventFilter, FilterError, parse_filter, wanted

Send = Callable[[dict[str, Any]], Awaitable[None]]
SESSION_COMMANDS = frozenset(
    {"subscription.subscribe", "subscription.unsubscribe", "subscription.reconnect", "agent.getTree"}
)
# Events a connection keeps for late subscriptions and reconnects (langgraph-api keeps as many per run).
REPLAY_LIMIT = 10_000


def error(command_id: Any, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "id": command_id, "error": code, "message": message, **extra}


@dataclass
class _Node:
    """A namespace of the thread's current run, for `agent.getTree`."""

    status: str
    graph_name: str


class Subscriptions:
    def __init__(self, send: Send | None = None) -> None:
        self._send = send
        self._filters: dict[str, tuple[EventFilter, int | None]] = {}  # by id: the filter and its `since`
        self._seen: deque[dict[str, Any]] = deque(maxlen=REPLAY_LIMIT)
        self._last_seq = 0
        self._tree: dict[tuple[str, ...], _Node] = {}
        # Events and command answers go out one at a time, and a subscription's replay is not
        # interleaved with the live events it would then repeat or miss.
        self._lock = asyncio.Lock()

    def meta(self) -> dict[str, Any]:
        """A command answer's `meta`: the last seq this connection has handled."""
        return {"applied_through_seq": self._last_seq}

    async def send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await self._emit(message)

    async def deliver(self, event: dict[str, Any]) -> None:
        """One sequenced event of the thread: kept, and sent if a subscription wants it."""
        async with self._lock:
            self._seen.append(event)
            self._last_seq = event["seq"]
            self._note_lifecycle(event)
            if any(wanted(event, f, since) for f, since in self._filters.values()):
                await self._emit(event)

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        command_id, method = command["id"], command["method"]
        params = command.get("params") if isinstance(command.get("params"), dict) else {}
        assert isinstance(params, dict)
        if method == "subscription.unsubscribe":
            name = params.get("subscription_id")
            if not isinstance(name, str):
                return error(command_id, "invalid_argument", "subscription.unsubscribe requires a subscription_id.")
            if self._filters.pop(name, None) is None:
                return error(command_id, "no_such_subscription", f"Unknown subscription: {name}")
            return self._success(command_id, {})
        if method == "agent.getTree":
            if not self._tree:
                return error(command_id, "no_such_run", "No active run is bound to this thread.")
            return self._success(command_id, {"tree": self._subtree(())})
        if method == "subscription.reconnect" and not self._seen:
            return error(command_id, "no_such_run", "No active run is bound to this thread.")
        return await self._subscribe(command_id, method, params)

    async def _subscribe(self, command_id: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            event_filter, since = parse_filter(params, method)
        except FilterError as exc:
            return error(command_id, "invalid_argument", str(exc))
        if method == "subscription.reconnect" and since is None:
            return error(
                command_id, "invalid_argument", "subscription.reconnect requires a non-negative integer since."
            )
        given = params.get("subscription_id")
        name = given if method == "subscription.reconnect" and isinstance(given, str) and given else str(uuid.uuid4())
        async with self._lock:
            oldest = self._seen[0]["seq"] if self._seen else None
            if since is not None and oldest is not None and since + 1 < oldest:
                message = f"resume gap: since={since} is older than min_available_seq={oldest}"
                return error(command_id, "resume_gap", message, since=since, min_available_seq=oldest)
            replay = [event for event in self._seen if wanted(event, event_filter, since)]
            for event in replay:
                await self._emit(event)
            self._filters[name] = (event_filter, since)
        return self._success(command_id, {"subscription_id": name, "replayed_events": len(replay)})

    def _success(self, command_id: Any, result: dict[str, Any]) -> dict[str, Any]:
        return {"type": "success", "id": command_id, "result": result, "meta": self.meta()}

    async def _emit(self, message: dict[str, Any]) -> None:
        if self._send is not None:
            await self._send(message)

    def _note_lifecycle(self, event: dict[str, Any]) -> None:
        if event["method"] != "lifecycle":
            return
        namespace = tuple(event["params"].get("namespace") or ())
        data = event["params"].get("data") or {}
        if not namespace and data.get("event") == "running":
            self._tree.clear()  # a new run of the thread: the tree is the current run's
        known = self._tree.get(namespace)
        name = data.get("graph_name") or (known.graph_name if known else (namespace[-1] if namespace else "root"))
        self._tree[namespace] = _Node(str(data.get("event") or "started"), str(name).split(":")[0])

    def _subtree(self, namespace: tuple[str, ...]) -> dict[str, Any]:
        node = self._tree.get(namespace) or _Node("started", namespace[-1].split(":")[0] if namespace else "root")
        children = sorted(k for k in self._tree if len(k) == len(namespace) + 1 and k[: len(namespace)] == namespace)
        tree: dict[str, Any] = {"namespace": list(namespace), "status": node.status, "graph_name": node.graph_name}
        if children:
            tree["children"] = [self._subtree(child) for child in children]
        return tree
