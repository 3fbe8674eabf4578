"""The thread-centric streaming protocol's routes (langgraph-sdk's `client.threads.stream`):

- `POST /threads/{thread_id}/commands`: one command, JSON in, JSON out (commands.py);
- `POST /threads/{thread_id}/stream/events`: SSE of the thread's protocol events, filtered by
  `{"channels", "namespaces"?, "depth"?, "since"?}` (`since`: the last `seq` the client saw).

The WebSocket transport (`transport="websocket"`) is not served yet (docs/compatibility.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.response import Stream

from aegra.auth import RequestAuth
from aegra.domain.protocol import commands
from aegra.domain.protocol.session import EventFilter, is_channel, numbered
from aegra.domain.protocol.stream import thread_events
from aegra.domain.runs.broker import StreamEvent
from aegra.domain.runs.services import RunService
from aegra.domain.runs.sse import sse_stream
from aegra.domain.threads.services import ThreadService
from aegra.errors import BadRequest
from aegra.serialization import dumps


def event_filter(body: Any) -> tuple[EventFilter, int | None]:
    """The filter a stream body asks for (400 for what is not one, as langgraph-api), and its `since`."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be an object with `channels`")
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels or not all(is_channel(c) for c in channels):
        raise BadRequest(
            "`channels` must be a non-empty list of values, updates, messages, tools, custom, lifecycle, input, "
            "tasks, checkpoints or custom:<name>"
        )
    namespaces = body.get("namespaces")
    if namespaces is not None and not (
        isinstance(namespaces, list)
        and all(isinstance(n, list) and all(isinstance(s, str) for s in n) for n in namespaces)
    ):
        raise BadRequest("`namespaces` must be a list of namespaces (lists of strings)")
    depth, since = body.get("depth"), body.get("since")
    for name, value in (("depth", depth), ("since", since)):
        if value is not None and (type(value) is not int or value < 0):
            raise BadRequest(f"`{name}` must be a non-negative integer")
    return EventFilter(frozenset(channels), namespaces or None, depth), since


def _command(raw: bytes) -> dict[str, Any]:
    try:
        command = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return commands.error(None, "invalid_argument", "The body is not JSON")
    if (
        not isinstance(command, dict)
        or type(command.get("id")) is not int
        or not isinstance(command.get("method"), str)
    ):
        return commands.error(
            command.get("id") if isinstance(command, dict) else None,
            "invalid_argument",
            "Protocol commands must include an integer id and string method.",
        )
    return command


class ProtocolController(Controller):
    path = "/threads/{thread_id:str}"
    tags = ["Thread Streaming"]

    @post("/commands", status_code=200, summary="Send one command of the thread streaming protocol")
    async def command(self, request: Request[Any, Any, Any], runs: RunService, threads: ThreadService,
                      auth: RequestAuth, thread_id: str) -> Response[dict[str, Any]]:  # fmt: skip
        command = _command(await request.body())
        if command.get("type") == "error":
            return Response(command, status_code=400)
        return Response(await commands.handle(command, thread_id, runs, threads, auth))

    @post("/stream/events", status_code=200, media_type="text/event-stream",
          summary="Stream the thread's protocol events (SSE)")  # fmt: skip
    async def stream_events(self, request: Request[Any, Any, Any], runs: RunService, auth: RequestAuth,
                            state: State, thread_id: str) -> Stream:  # fmt: skip
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise BadRequest("The body is not JSON") from None
        wanted, since = event_filter(body)
        thread_uuid = await runs.existing_thread(thread_id, auth=auth)
        events = numbered(thread_events(runs, thread_uuid), wanted, since)
        body_events = _as_stream_events(events)
        return Stream(
            sse_stream(body_events, with_ids=True, keepalive=state.settings.keepalive_interval_secs),
            media_type="text/event-stream",
        )


async def _as_stream_events(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[StreamEvent]:
    """SSE frames as langgraph-api writes them: `event: <method>`, the event as data, `id: <seq>`."""
    async for event in events:
        yield StreamEvent(event["seq"], event["method"], dumps(event))
