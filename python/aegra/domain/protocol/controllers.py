"""The thread-centric streaming protocol's routes (langgraph-sdk's `client.threads.stream`):

- `POST /threads/{thread_id}/commands`: one command, JSON in, JSON out (commands.py);
- `POST /threads/{thread_id}/stream/events`: SSE of the thread's protocol events, filtered by
  `{"channels", "namespaces"?, "depth"?, "since"?}` (`since`: the last `seq` the client saw);
- `WebSocket /threads/{thread_id}/stream/events`: both on one socket (socket.py); langgraph-sdk's
  `transport="websocket"` sends its commands over HTTP and subscribes on the socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, WebSocket, post, websocket
from litestar.datastructures import State
from litestar.response import Stream

from aegra.auth import RequestAuth
from aegra.domain.protocol import commands
from aegra.domain.protocol.session import FilterError, numbered, parse_filter
from aegra.domain.protocol.socket import ProtocolSocket
from aegra.domain.protocol.stream import thread_events
from aegra.domain.runs.broker import StreamEvent
from aegra.domain.runs.services import RunService
from aegra.domain.runs.sse import sse_stream
from aegra.domain.threads.services import ThreadService
from aegra.errors import BadRequest
from aegra.serialization import dumps


class ProtocolController(Controller):
    path = "/threads/{thread_id:str}"
    tags = ["Thread Streaming"]

    @post("/commands", status_code=200, summary="Send one command of the thread streaming protocol")
    async def command(self, request: Request[Any, Any, Any], runs: RunService, threads: ThreadService,
                      auth: RequestAuth, thread_id: str) -> Response[dict[str, Any]]:  # fmt: skip
        command = commands.parse(await request.body())
        if command.get("type") == "error":
            return Response(command, status_code=400)
        return Response(await commands.handle(command, thread_id, runs, threads, auth))

    @post("/stream/events", status_code=200, media_type="text/event-stream",
          summary="Stream the thread's protocol events (SSE)")  # fmt: skip
    async def stream_events(self, request: Request[Any, Any, Any], runs: RunService, auth: RequestAuth,
                            state: State, thread_id: str) -> Stream:  # fmt: skip
        try:
            wanted, since = parse_filter(msgspec.json.decode(await request.body()), "The stream body")
        except msgspec.DecodeError:
            raise BadRequest("The body is not JSON") from None
        except FilterError as exc:
            raise BadRequest(str(exc)) from None
        thread_uuid = await runs.existing_thread(thread_id, auth=auth)
        events = numbered(thread_events(runs, thread_uuid), wanted, since)
        body_events = _as_stream_events(events)
        return Stream(
            sse_stream(body_events, with_ids=True, keepalive=state.settings.keepalive_interval_secs),
            media_type="text/event-stream",
        )

    @websocket("/stream/events")
    async def stream_socket(self, socket: WebSocket[Any, Any, Any], runs: RunService, threads: ThreadService,
                            auth: RequestAuth, thread_id: str) -> None:  # fmt: skip
        """The protocol over a WebSocket: commands in, their answers and the thread's events out (socket.py)."""
        await socket.accept()
        await ProtocolSocket(socket, thread_id, runs, threads, auth).serve()


async def _as_stream_events(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[StreamEvent]:
    """SSE frames as langgraph-api writes them: `event: <method>`, the event as data, `id: <seq>`."""
    async for event in events:
        yield StreamEvent(event["seq"], event["method"], dumps(event))
