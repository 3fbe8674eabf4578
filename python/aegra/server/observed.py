"""The outermost ASGI layer: what every HTTP request reports.

- Metrics: its route template, method, status and time (aegra/telemetry/metrics.py). The route is
  the template Litestar matched (`/threads/{thread_id}/runs`), never the raw path, so that the
  series stay few; a request no API route matched (a 404, or one the user's own app of
  `http.app` answered) counts as `<other>`.
- Logs: a request id (the client's `X-Request-ID` if it sent a sane one, else a new one; echoed in
  the response), set for every line logged while the request is handled (telemetry/logs.py), and
  one access line when it ends (`ACCESS_LOG`).
- Traces (when OTEL_* turns them on): the request's span (telemetry/tracing.py).
- Errors that escape the app (an API stream that fails after its response started, the user's
  own custom routes): logged once here, with the request's ids and the traceback of what failed,
  not of the task groups around it (telemetry/error_log.py); a 500 if nothing was sent yet.
- Keep-alive: a request answered before its body was read keeps its connection usable (below).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from aegra.errors import AegraError
from aegra.server.errors import send_error
from aegra.telemetry import logs, metrics, tracing
from aegra.telemetry.error_log import ErrorLogged, log_error, root_error

OTHER = "<other>"
REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID = 128
CONNECTION_CLOSE = (b"connection", b"close")
DRAIN_LIMIT = 64 * 1024  # bytes of an unread request body read after the answer
DRAIN_SECONDS = 5.0

access_logger = logging.getLogger("aegra.access")
logger = logging.getLogger(__name__)


class InternalError(AegraError):
    status_code = 500


class ObservedHttp:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]  # type: ignore[typeddict-item]
        request_id = _request_id(scope)
        status = 500  # what the client gets if the app fails before it answers
        size = 0
        started_response = False
        span = tracing.start_http_span(scope)
        # A request answered before its body was read (a 401 from the auth layer, a 404, a route
        # that takes no body): Granian closes its connection after the response unless the body
        # is read by then, and a client told nothing sends its next request on that connection
        # and loses it ("server disconnected"). So a small body is read after the answer, and a
        # large one is not waited for: the response says `connection: close`.
        length = _body_length(scope)
        drain = length is not None and length <= DRAIN_LIMIT
        # Granian marks no chunk of a body as its last: the end is one more `receive()` that answers
        # an empty message, and each `receive()` is a round trip through Granian's threads (~0.1 ms
        # of CPU on this machine, a third of what a cheap POST costs). So the chunk that completes
        # the declared length is given as the last one (a body without any, as its empty end), and
        # Granian's own end is dropped if the app asks again (it then waits for the disconnect).
        # Bytes of the declared body not received yet; None: not declared (chunked, or HTTP/2, where
        # a body needs no header).
        left = None if length == 0 and scope.get("http_version") == "2" else length
        ended = False  # the app was given the body's last message

        async def observed_receive() -> ReceiveMessage:
            nonlocal left, ended
            if left == 0 and not ended:
                ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                body = message.get("body", b"")
                if ended and not body:
                    continue
                if left is not None:
                    left -= len(body)
                    if left <= 0 and message.get("more_body", False):
                        message = {"type": "http.request", "body": body, "more_body": False}
                ended = ended or not message.get("more_body", False)
                return message

        def body_unread() -> bool:
            return length != 0 and not ended and left != 0

        async def observed_send(message: Message) -> None:
            nonlocal status, size, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())]
                if body_unread() and not drain:
                    headers.append(CONNECTION_CLOSE)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        token = logs.start(request_id=request_id)
        try:
            with tracing.use(span):
                await self.app(scope, observed_receive, observed_send)
            if body_unread() and drain:
                with contextlib.suppress(TimeoutError):  # a client that stalls: Granian closes
                    async with asyncio.timeout(DRAIN_SECONDS):
                        while body_unread() and (await observed_receive())["type"] == "http.request":
                            pass
        except Exception as exc:
            with tracing.use(span):
                log_error(logger, "unhandled error on %s %s", method, scope["path"], exc=exc)
            if started_response:
                raise ErrorLogged(f"{method} {scope['path']}") from None
            await send_error(scope, observed_send, InternalError("Internal server error"))
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or OTHER
            metrics.http_request(route, method, status, seconds)
            if self.access_log:
                path = scope["path"]
                with tracing.use(span):  # the line carries the request's trace id
                    access_logger.info(
                        "%s %s %d %.1fms %dB", method, path, status, seconds * 1000, size,
                        extra={"method": method, "path": path, "route": route, "status": status,
                               "duration_ms": round(seconds * 1000, 3), "size": size},
                    )  # fmt: skip
            tracing.end_http_span(span, method, route, status)
            logs.end(token)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A failed startup or shutdown logged once (Litestar sends its traceback as the failure's
        text, which Granian logs, then Granian logs the exception again)."""
        started = False

        async def quiet_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "lifespan.startup.complete"
            if message["type"] in ("lifespan.startup.failed", "lifespan.shutdown.failed"):
                message = {"type": message["type"], "message": ""}
            await send(message)

        try:
            await self.app(scope, receive, quiet_send)
        except Exception as exc:
            what = "stopping the server failed" if started else "the server could not start"
            log_error(logger, "%s: %s", what, root_error(exc), exc=exc)
            logs.flush()  # Granian ends the worker next
            raise ErrorLogged(str(root_error(exc))) from None  # its text: what requests waiting are told


def _body_length(scope: Any) -> int | None:
    """The request body's declared length (0: none); None: chunked, or not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.strip().isdigit() else None
        if name == b"transfer-encoding":
            return None
    return 0


def _request_id(scope: Any) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            given = value.decode("latin-1")
            if 0 < len(given) <= MAX_REQUEST_ID and given.isprintable():
                return given
            break
    return uuid.uuid4().hex
