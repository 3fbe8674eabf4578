"""JSON-RPC 2.0, as MCP (`/mcp`) and A2A (`/a2a/{assistant_id}`) speak it: one message per POST.

Both protocols put their own rules on top (which ids, which methods, which HTTP status for which
failure); this module holds what they share: reading a message, telling requests from
notifications and responses, and writing results and errors. Errors carry the standard codes
(https://www.jsonrpc.org/specification#error_object); a domain error (`AegraError`: not found,
invalid, forbidden...) becomes an error object with its HTTP status in `data`, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, overload

import msgspec

from aegra.errors import AegraError
from aegra.serialization import dumps_lenient

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

RequestId = str | int


class RpcError(Exception):
    """An error answered as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None, *, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.request_id = request_id  # echoed in the answer when the request's id could be read

    @classmethod
    def from_domain(cls, exc: AegraError, code: int = INVALID_PARAMS) -> RpcError:
        return cls(code, exc.detail, {"status": exc.status_code})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True, slots=True)
class Message:
    """One incoming message. `kind`: request (id and method), notification (method, no id) or
    response (id, result or error: a client answering a server's request)."""

    kind: str
    id: RequestId | None
    method: str | None
    params: dict[str, Any]


def parse(body: bytes) -> Message:
    """The message in a POST body; RpcError (with the id, when one could be read) if it is none."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise RpcError(PARSE_ERROR, f"Parse error: {exc}") from None
    except RecursionError:
        raise RpcError(PARSE_ERROR, "Parse error: JSON nested too deeply") from None
    if isinstance(raw, list):
        # Batches left MCP in 2025-06-18 and were never part of A2A.
        raise RpcError(INVALID_REQUEST, "Invalid Request: batches are not supported; send one message per request")
    if not isinstance(raw, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: expected a JSON object")
    message_id = raw.get("id")
    # bool is an int to Python, not to JSON-RPC; null ids are for errors only.
    valid_id = isinstance(message_id, str | int) and not isinstance(message_id, bool)
    if "id" in raw and not valid_id:
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'id' must be a string or an integer")
    answer_id = message_id if valid_id else None
    if raw.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'jsonrpc' must be \"2.0\"", request_id=answer_id)
    method = raw.get("method")
    if method is None:
        if answer_id is not None and ("result" in raw or "error" in raw):
            return Message("response", answer_id, None, {})
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'method' is missing", request_id=answer_id)
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'method' must be a string", request_id=answer_id)
    params = raw.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: 'params' must be an object", request_id=answer_id)
    return Message("request" if answer_id is not None else "notification", answer_id, method, params)


def result(request_id: RequestId | None, value: Any) -> bytes:
    return dumps_lenient({"jsonrpc": "2.0", "id": request_id, "result": value})


def error(request_id: RequestId | None, exc: RpcError) -> bytes:
    return dumps_lenient({"jsonrpc": "2.0", "id": request_id, "error": exc.body()})


@overload
def require_str(params: dict[str, Any], name: str) -> str: ...
@overload
def require_str(params: dict[str, Any], name: str, *, optional: bool) -> str | None: ...
def require_str(params: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    """A string parameter, or an invalid-params error naming it."""
    value = params.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise RpcError(INVALID_PARAMS, f"Invalid params: '{name}' must be a non-empty string")
    return value


def optional_dict(params: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is not None and not isinstance(value, dict):
        raise RpcError(INVALID_PARAMS, f"Invalid params: '{name}' must be an object")
    return value
