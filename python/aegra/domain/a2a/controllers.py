"""`/a2a/{assistant_id}`: each assistant an A2A agent (JSON-RPC 2.0), with its agent card.

POST takes one JSON-RPC request of A2A 1.0 or 0.3 (wire.py) and answers in the same version:
JSON, or server-sent events for `SendStreamingMessage` / `message/stream`. A body that is no
JSON-RPC request answers 400 with a JSON-RPC error; a refused method or params, 200 with one.
GET on the agent's URL, or its `/.well-known/agent-card.json` (`agent.json`, the 0.2 name),
answers the card; so does `/.well-known/agent-card.json?assistant_id=...` at the root, as on
langgraph-api. Authentication ran before (server/auth.py): the card and the agent need it.
`assistant_id` may also be a graph id (that graph's system assistant), as everywhere in the API.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Stream

from aegra.auth import RequestAuth
from aegra.domain import jsonrpc
from aegra.domain.a2a import wire
from aegra.domain.a2a.services import UNSUPPORTED_OPERATION, A2AService
from aegra.domain.runs.broker import StreamEvent
from aegra.domain.runs.sse import sse_stream
from aegra.errors import AegraError, Invalid

logger = logging.getLogger(__name__)


def _json(body: bytes, status_code: int = 200) -> Response[bytes]:
    return Response(body, status_code=status_code, media_type="application/json")


def _accepts(accept: str | None, media_type: str) -> bool:
    """Whether an Accept header allows `media_type` (`*/*` and `type/*` included)."""
    for item in (accept or "").lower().split(","):
        candidate = item.split(";", 1)[0].strip()
        if candidate in ("*/*", media_type) or (candidate.endswith("/*") and media_type.startswith(candidate[:-1])):
            return True
    return False


def _sse_safe(data: bytes) -> bytes:
    # JSON may carry U+2028/U+2029/U+0085 raw; some SSE readers split lines on them.
    return (
        data.replace(b"\xc2\x85", b"\\u0085").replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    )


async def _events(items: AsyncIterator[dict[str, Any]], request_id: jsonrpc.RequestId, v03: bool,
                  assistant_id: str) -> AsyncIterator[StreamEvent]:  # fmt: skip
    try:
        async for item in items:
            body = jsonrpc.result(request_id, wire.stream_event_v03(item) if v03 else item)
            yield StreamEvent(0, "message", _sse_safe(body))
    except Exception:
        logger.exception("A2A stream of assistant %s failed", assistant_id)
        error = jsonrpc.RpcError(jsonrpc.INTERNAL_ERROR, "Internal server error")
        yield StreamEvent(0, "message", jsonrpc.error(request_id, error))


class A2AController(Controller):
    path = "/a2a/{assistant_id:str}"
    tags = ["A2A"]

    @post("/", status_code=200, summary="A2A JSON-RPC (1.0 and 0.3): send or stream a message, get or cancel a task")
    async def rpc(self, a2a: A2AService, auth: RequestAuth, state: State, request: Request[Any, Any, Any],
                  assistant_id: str) -> Response[Any]:  # fmt: skip
        try:
            message = jsonrpc.parse(await request.body())
        except jsonrpc.RpcError as exc:
            return _json(jsonrpc.error(exc.request_id, exc), 400)
        if message.kind == "response":
            return Response(b"", status_code=202)
        if message.kind == "notification":
            error = jsonrpc.RpcError(jsonrpc.INVALID_REQUEST, "Invalid Request: A2A requests need an 'id'")
            return _json(jsonrpc.error(None, error), 400)
        method = message.method or ""
        operation = wire.V1_METHODS.get(method) or wire.V03_METHODS.get(method)
        v03 = method in wire.V03_METHODS
        if operation is None:
            code = UNSUPPORTED_OPERATION if method in wire.UNSUPPORTED_METHODS else jsonrpc.METHOD_NOT_FOUND
            verb = "This operation is not supported" if code == UNSUPPORTED_OPERATION else "Method not found"
            return _json(jsonrpc.error(message.id, jsonrpc.RpcError(code, f"{verb}: {method}")))
        wanted = "text/event-stream" if operation == "stream" else "application/json"
        if not _accepts(request.headers.get("accept"), wanted):
            error = jsonrpc.RpcError(jsonrpc.INVALID_REQUEST, f"Accept header must include {wanted}")
            return _json(jsonrpc.error(message.id, error), 400)
        params = message.params
        try:
            if operation == "stream":
                items = await a2a.stream(assistant_id, params, auth)
                events = _events(items, message.id, v03, assistant_id)  # type: ignore[arg-type]
                keepalive = state.settings.keepalive_interval_secs
                return Stream(sse_stream(events, with_ids=False, keepalive=keepalive), media_type="text/event-stream")
            if operation == "send":
                task = await a2a.send(assistant_id, params, auth)
                result: Any = wire.task_v03(task) if v03 else {"task": task}
            elif operation == "get":
                task = await a2a.get_task(assistant_id, params, auth)
                result = wire.task_v03(task) if v03 else task
            else:
                task = await a2a.cancel_task(assistant_id, params, auth)
                result = wire.task_v03(task) if v03 else task
        except jsonrpc.RpcError as exc:
            return _json(jsonrpc.error(message.id, exc))
        except AegraError as exc:
            return _json(jsonrpc.error(message.id, jsonrpc.RpcError.from_domain(exc)))
        return _json(jsonrpc.result(message.id, result))

    @get("/", summary="The agent card of an assistant")
    async def card(self, a2a: A2AService, auth: RequestAuth, request: Request[Any, Any, Any],
                   assistant_id: str) -> dict[str, Any]:  # fmt: skip
        return await a2a.card(assistant_id, str(request.base_url), auth)

    @get(["/.well-known/agent-card.json", "/.well-known/agent.json"], summary="The agent card of an assistant")
    async def well_known_card(self, a2a: A2AService, auth: RequestAuth, request: Request[Any, Any, Any],
                              assistant_id: str) -> dict[str, Any]:  # fmt: skip
        return await a2a.card(assistant_id, str(request.base_url), auth)


class AgentCardController(Controller):
    path = "/.well-known/agent-card.json"
    tags = ["A2A"]

    @get("/", summary="The agent card of the assistant named by `assistant_id`")
    async def card(self, a2a: A2AService, auth: RequestAuth, request: Request[Any, Any, Any],
                   assistant_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        if not assistant_id:
            raise Invalid("Missing required query parameter: assistant_id")
        return await a2a.card(assistant_id, str(request.base_url), auth)
