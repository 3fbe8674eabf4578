"""Every error answers `{"detail": "<string>"}`, as langgraph-api's errors do (and what
`langgraph_sdk`'s client reads its error messages from)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import ClientException, HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Scope, Send

from aegra.errors import AegraError
from aegra.telemetry.error_log import log_error

logger = logging.getLogger(__name__)


def error_response(status_code: int, detail: str, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response({"detail": detail}, status_code=status_code, headers=headers)


def _detail(exc: HTTPException) -> str:
    detail = exc.detail
    return detail if isinstance(detail, str) and detail else "unknown error"


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        # A body that is not JSON at all: langgraph-api answers 422 here, like any bad body.
        return error_response(HTTP_422_UNPROCESSABLE_ENTITY, f"Invalid JSON in request body: {exc.__cause__}")
    return error_response(exc.status_code, _detail(exc), exc.headers)


def handle_validation_exception(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Schema errors are 422, with the offending field in the (string) detail."""
    detail = _detail(exc)
    problems = [
        f"{item.get('key') or item.get('source') or 'body'}: {item.get('message')}"
        for item in (exc.extra or [])
        if isinstance(item, dict)
    ]
    if problems:
        detail = f"{detail}: {'; '.join(problems)}"
    return error_response(HTTP_422_UNPROCESSABLE_ENTITY, detail)


def handle_domain_error(_: Request[Any, Any, Any], exc: AegraError) -> Response[Any]:
    return error_response(exc.status_code, exc.detail, getattr(exc, "headers", None))


def handle_value_error(_: Request[Any, Any, Any], exc: ValueError) -> Response[Any]:
    return error_response(400, str(exc) or "invalid value")


def handle_too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """JSON nested past what the decoder (msgspec) recurses into: the body never became a request.
    (Shallower values that are still too deep are refused by `domain.schemas.check_json`.)"""
    return error_response(HTTP_422_UNPROCESSABLE_ENTITY, "Invalid JSON in request body: nested too deeply")


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log_error(logger, "unhandled error on %s %s", request.method, request.url.path, exc=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    # Routing errors (unknown path, wrong method) are looked up by status code.
    404: handle_http_exception,
    405: handle_http_exception,
    AegraError: handle_domain_error,
    ValidationException: handle_validation_exception,
    HTTPException: handle_http_exception,
    ValueError: handle_value_error,
    RecursionError: handle_too_deep,
    Exception: handle_unexpected,
}


async def send_error(scope: Scope, send: Send, exc: AegraError) -> None:
    """The error answered by ASGI middleware, before any route: `{"detail"}` (a websocket is closed)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": exc.detail[:120]})  # policy violation
        return
    headers = [(b"content-type", b"application/json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in (getattr(exc, "headers", None) or {}).items()]
    start: Any = {"type": "http.response.start", "status": exc.status_code, "headers": headers}
    body: Any = {"type": "http.response.body", "body": msgspec.json.encode({"detail": exc.detail})}
    await send(start)
    await send(body)
