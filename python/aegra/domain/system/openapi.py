"""`/openapi.json`: the document Litestar generates, completed with what the server really answers
when a request fails.

Litestar documents one failure per route, a 400 with its own `{status_code, detail, extra}` body,
which the server never sends: every error is `{"detail": "<string>"}` (server/errors.py), with the
status of its cause. This adds, to every operation, the statuses it can answer and that body
(`ErrorResponse`), so that clients generated from the document, and schema-driven fuzzers (the
test suite runs one, tests/e2e/test_fuzz_openapi.py), see the truth:

- 422: the request does not fit the schema (any parameter or body);
- 400: a value the schema allows but the request's meaning refuses (e.g. `context` with
  `config.configurable`, a graph that refuses a state update);
- 404: an id in the path (or the body) that names nothing the caller may see;
- 409: creating what exists, or changing what is busy (threads, runs, assistants, crons);
- 401 and 403: refused by the `auth.path` handlers (only when auth is configured);
- 405: ending an MCP session, on a server that keeps none;
- 501: thread storage, with a checkpointer whose tables it does not know.

Three routes speak another protocol, whose own error body a 400 carries: `POST
/threads/{thread_id}/commands` the thread streaming protocol's (`ProtocolError`,
domain/protocol/commands.py), `/mcp` and `/a2a/{assistant_id}` JSON-RPC's (`JsonRpcError`,
domain/jsonrpc.py). Their bodies are read by hand, so the 400 is documented whatever Litestar saw.
"""

from __future__ import annotations

import copy
from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "title": "ErrorResponse",
    "description": "Every error the server answers: what went wrong, for a person to read.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
PROTOCOL_ERROR_SCHEMA = {
    "type": "object",
    "title": "ProtocolError",
    "description": "A protocol command refused: the command's id (null when unreadable), a code, a message.",
    "properties": {
        "type": {"const": "error"},
        "id": {"type": ["integer", "null"]},
        "error": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["type", "id", "error", "message"],
}
JSONRPC_ERROR_SCHEMA = {
    "type": "object",
    "title": "JsonRpcError",
    "description": "A JSON-RPC 2.0 error response (the request's id, null when unreadable).",
    "properties": {
        "jsonrpc": {"const": "2.0"},
        "id": {"type": ["integer", "string", "null"]},
        "error": {
            "type": "object",
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        },
    },
    "required": ["jsonrpc", "id", "error"],
}
# The 400 body of the routes that speak another protocol, by the start of their path.
PROTOCOL_ERRORS = {
    "/threads/{thread_id}/commands": "ProtocolError",
    "/mcp": "JsonRpcError",
    "/a2a/": "JsonRpcError",
}
DESCRIPTIONS = {
    400: "The request's values cannot be acted on",
    401: "Not authenticated (with auth configured)",
    403: "Refused by an auth handler (with auth configured)",
    404: "Not found",
    405: "Not served with this server's configuration (MCP sessions, when it keeps none)",
    409: "Conflict with the resource's current state",
    422: "The request does not fit the schema",
    501: "Not available with this server's configuration",
}
# Path parameters that are UUIDs (an assistant id may also be a graph's name).
UUID_PARAMETERS = frozenset({"thread_id", "run_id", "cron_id", "checkpoint_id"})
# Routes whose changes can conflict with what exists or is running.
CONFLICTING = ("/assistants", "/threads", "/runs")
# Routes that answer without authentication, and never about a resource.
OPEN = frozenset({"/ok", "/info", "/openapi.json"})


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of Litestar's document with the real error responses, and ids typed as what they are."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(ErrorResponse=ERROR_SCHEMA, ProtocolError=PROTOCOL_ERROR_SCHEMA, JsonRpcError=JSONRPC_ERROR_SCHEMA)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete") and isinstance(operation, dict):
                for parameter in operation.get("parameters", ()):
                    if parameter.get("in") == "path" and parameter.get("name") in UUID_PARAMETERS:
                        parameter.setdefault("schema", {})["format"] = "uuid"
                responses = operation.setdefault("responses", {})
                protocol_error = next((name for start, name in PROTOCOL_ERRORS.items() if path.startswith(start)), None)
                for status in _statuses(path, method, operation, protocol_error is not None):
                    schema = ERROR_REF
                    if status == 400 and protocol_error is not None:
                        schema = {"$ref": f"#/components/schemas/{protocol_error}"}
                    responses[str(status)] = {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": schema}},
                    }
    return document


def _statuses(path: str, method: str, operation: dict[str, Any], reads_body: bool) -> list[int]:
    takes_input = bool(operation.get("parameters") or operation.get("requestBody")) or (reads_body and method == "post")
    statuses = [400, 422] if takes_input else []
    if path in OPEN:
        return statuses
    statuses += [401, 403, 404]
    if method != "get" and path.startswith(CONFLICTING):
        statuses.append(409)
    if (method, path) == ("delete", "/mcp"):
        statuses.append(405)
    if path.endswith("/storage"):
        statuses.append(501)  # a checkpointer whose tables it cannot read
    return statuses
