"""`/mcp`: MCP's Streamable HTTP transport, answering each POSTed JSON-RPC request with JSON.

As langgraph-api: no server-to-client stream (GET answers 405), one message per POST; a
notification or a client's response is acknowledged with 202. Transport-level faults (not JSON,
not a JSON-RPC message, an unsupported `MCP-Protocol-Version`, an Accept header without JSON)
answer 400 with a JSON-RPC error object; faults of a method's params answer 200 with one, as the
protocol wants. Authentication ran before (server/auth.py), so a bad token is a 401 `{"detail"}`.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, post

from aegra.auth import RequestAuth
from aegra.domain import jsonrpc
from aegra.domain.mcp.services import DEFAULT_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, McpService

SESSION_HEADER = "Mcp-Session-Id"


def _json(body: bytes, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def _transport_error(message: str, code: int = jsonrpc.INVALID_REQUEST) -> Response[bytes]:
    return _json(jsonrpc.error(None, jsonrpc.RpcError(code, message)), 400)


def _accepts_json_or_sse(accept: str | None) -> bool:
    accept = (accept or "").lower()
    return "application/json" in accept or "text/event-stream" in accept or "*/*" in accept


class McpController(Controller):
    path = "/mcp"
    tags = ["MCP"]

    @post("/", status_code=200, summary="MCP (Streamable HTTP): one JSON-RPC message per request")
    async def post_message(
        self, mcp: McpService, auth: RequestAuth, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        if not _accepts_json_or_sse(request.headers.get("accept")):
            return _transport_error("Accept header must include application/json or text/event-stream")
        version = request.headers.get("mcp-protocol-version")
        if version is not None and version not in SUPPORTED_PROTOCOL_VERSIONS:
            supported = ", ".join(SUPPORTED_PROTOCOL_VERSIONS)
            return _transport_error(f"Unsupported MCP-Protocol-Version {version!r}; supported: {supported}")
        try:
            message = jsonrpc.parse(await request.body())
        except jsonrpc.RpcError as exc:
            return _json(jsonrpc.error(exc.request_id, exc), 400)
        if message.kind != "request":
            return Response(b"", status_code=202)  # notifications and responses need no answer
        session_id = request.headers.get("mcp-session-id")
        try:
            result = await mcp.handle(
                message, auth, session_id=session_id, protocol_version=version or DEFAULT_PROTOCOL_VERSION
            )
        except jsonrpc.RpcError as exc:
            return _json(jsonrpc.error(message.id, exc))
        headers = None
        if message.method == "initialize" and (new_session := mcp.new_session()) is not None:
            headers = {SESSION_HEADER: new_session}
        return _json(jsonrpc.result(message.id, result), headers=headers)

    @delete("/", status_code=200, summary="End an MCP session (deletes its threads)")
    async def end_session(self, mcp: McpService, auth: RequestAuth, request: Request[Any, Any, Any]) -> Response[Any]:
        session_id = request.headers.get("mcp-session-id")
        if not mcp.sessions or session_id is None:
            # Stateless: there is no session to end (the spec's answer for that is 405).
            return Response({"detail": "This server keeps no MCP sessions"}, status_code=405)
        await mcp.end_session(session_id, auth)
        return Response(None, status_code=204)
