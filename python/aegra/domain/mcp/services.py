"""The MCP methods: `initialize`, `ping`, `tools/list`, `tools/call` (protocol 2024-11-05 to 2025-11-25).

Every assistant the caller may read is a tool; calling it is a run, through the same services as
`/runs/wait` (or `/threads/{id}/runs/wait` in session mode), so the auth handlers written for the
HTTP API decide here too. Stateless by default, as langgraph-api: each call is a stateless run.
With `http.mcp_sessions`, `initialize` hands out an `Mcp-Session-Id` and each (session, tool)
pair keeps a thread of its own, so successive calls share state; the thread id is derived from
the session id, so nothing is stored for a session and it survives restarts.

Why not the `mcp` SDK's server here: its package import costs ~1.5 s of startup (it loads its
client, server, Starlette and uvicorn), its Streamable HTTP transport is Starlette's and runs a
task group with memory streams for every stateless request, more than a `tools/call` may cost
next to `runs/wait` (benches/mcp_ab.py), and these four methods are little code. The tests speak
to this server with the SDK's own client, which validates every answer with the SDK's types.
"""

from __future__ import annotations

import uuid
from typing import Any

from aegra import __version__
from aegra.auth import RequestAuth
from aegra.domain.assistants import schemas as assistant_schemas
from aegra.domain.assistants.input_schemas import InputSchemas
from aegra.domain.assistants.services import AssistantService
from aegra.domain.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, Message, RpcError, optional_dict, require_str
from aegra.domain.mcp.tools import tool_for, tool_name
from aegra.domain.runs.schemas import RunCreate
from aegra.domain.runs.services import RunService
from aegra.domain.threads import schemas as thread_schemas
from aegra.domain.threads.services import ThreadService
from aegra.errors import AegraError, NotFound
from aegra.serialization import dumps_lenient

SUPPORTED_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[-1]
# Clients send no MCP-Protocol-Version header before 2025-06-18; the spec says to assume this one.
DEFAULT_PROTOCOL_VERSION = "2025-03-26"
# `structuredContent` in tool results exists from this version on.
STRUCTURED_CONTENT_SINCE = "2025-06-18"
PAGE_SIZE = 100
MAX_ASSISTANTS = 1000  # tools/call looks the name up among this many assistants, as langgraph-api
SESSION_METADATA_KEY = "mcp_session_id"


def negotiate(requested: Any) -> str:
    """The client's version if supported, else the latest (the client then decides whether to go on)."""
    return requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


def session_uuid(session_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(session_id)
    except ValueError:
        raise NotFound(f"MCP session {session_id!r} not found") from None


class McpService:
    def __init__(self, assistants: AssistantService, runs: RunService, threads: ThreadService,
                 *, sessions: bool = False) -> None:  # fmt: skip
        self.assistants = assistants
        self.runs = runs
        self.threads = threads
        self.sessions = sessions
        self.input_schemas = InputSchemas(assistants.graphs)

    async def handle(self, message: Message, auth: RequestAuth, *, session_id: str | None,
                     protocol_version: str) -> Any:  # fmt: skip
        """The result of one request; raises RpcError for the error answer."""
        method, params = message.method, message.params
        if method == "tools/call":
            return await self.call_tool(params, auth, session_id=session_id, protocol_version=protocol_version)
        if method == "tools/list":
            return await self.list_tools(params, auth)
        if method == "initialize":
            return self.initialize(params)
        if method == "ping":
            return {}
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    def initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "protocolVersion": negotiate(params.get("protocolVersion", LATEST_PROTOCOL_VERSION)),
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "Aegra", "version": __version__},
        }

    def new_session(self) -> str | None:
        return str(uuid.uuid4()) if self.sessions else None

    # -- tools ----------------------------------------------------------------------------

    async def _assistants(self, auth: RequestAuth, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        limit = min(limit, self.assistants.max_search_limit)
        search = assistant_schemas.AssistantSearch(limit=limit, offset=offset)
        return (await self.assistants.search(search, auth=auth)).items

    async def list_tools(self, params: dict[str, Any], auth: RequestAuth) -> dict[str, Any]:
        cursor = params.get("cursor")
        try:
            offset = int(cursor) if cursor is not None else 0
        except (TypeError, ValueError):
            raise RpcError(INVALID_PARAMS, f"Invalid params: unknown cursor {cursor!r}") from None
        if offset < 0 or offset > 10**9:
            raise RpcError(INVALID_PARAMS, f"Invalid params: unknown cursor {cursor!r}")
        page = await self._assistants(auth, limit=PAGE_SIZE + 1, offset=offset)
        tools: list[dict[str, Any]] = []
        seen: set[str] = set()
        for assistant in page[:PAGE_SIZE]:
            name = tool_name(assistant["name"])
            if not name or name in seen:
                continue  # the first (newest) of same-named assistants is the tool; calling it says so
            seen.add(name)
            schema = await self.input_schemas.get(assistant)
            if schema is not None:  # an unrenderable input schema cannot describe a tool
                tools.append(tool_for(assistant, name, schema))
        result: dict[str, Any] = {"tools": tools}
        if len(page) > PAGE_SIZE:
            result["nextCursor"] = str(offset + PAGE_SIZE)  # the spec's cursors are strings
        return result

    async def _find(self, name: str, auth: RequestAuth) -> dict[str, Any]:
        matching = [a for a in await self._assistants(auth, limit=MAX_ASSISTANTS) if tool_name(a["name"]) == name]
        if not matching:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        if len(matching) > 1:
            raise RpcError(INVALID_PARAMS, "Multiple tools found with the same name.")
        return matching[0]

    async def call_tool(self, params: dict[str, Any], auth: RequestAuth, *, session_id: str | None,
                        protocol_version: str) -> dict[str, Any]:  # fmt: skip
        name = require_str(params, "name")
        arguments = optional_dict(params, "arguments") or {}
        context = optional_dict(params, "context")  # langgraph-api's extension: the run's context
        assistant = await self._find(name, auth)
        body = RunCreate(assistant_id=str(assistant["assistant_id"]), input=arguments, context=context)
        thread_id = None
        try:
            if self.sessions and session_id is not None:
                thread_id = str(uuid.uuid5(session_uuid(session_id), str(assistant["assistant_id"])))
                body.if_not_exists, body.multitask_strategy = "create", "enqueue"
                body.metadata = {SESSION_METADATA_KEY: session_id}
            run = await self.runs.create(thread_id, body, auth=auth)
        except AegraError as exc:
            raise RpcError.from_domain(exc) from None
        value = await self.runs.result(None, str(run.run_id), auth=auth, just_created=True)
        if isinstance(value, dict) and "__error__" in value:
            # A failure of the graph is the tool's answer (isError), not a protocol error.
            error = value["__error__"] if isinstance(value["__error__"], dict) else {}
            text = ": ".join(str(error[key]) for key in ("error", "message") if error.get(key)) or "run failed"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        result: dict[str, Any] = {"content": [{"type": "text", "text": dumps_lenient(value).decode()}]}
        if isinstance(value, dict) and protocol_version >= STRUCTURED_CONTENT_SINCE:
            result["structuredContent"] = value
        return result

    async def end_session(self, session_id: str, auth: RequestAuth) -> None:
        """DELETE /mcp: the session's threads go (those the caller may delete)."""
        session_uuid(session_id)
        search = thread_schemas.ThreadSearch(metadata={SESSION_METADATA_KEY: session_id}, limit=1000)
        for thread in (await self.threads.search(search, auth=auth)).items:
            await self.threads.delete(str(thread["thread_id"]), auth=auth)
