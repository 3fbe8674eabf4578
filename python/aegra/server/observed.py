"""The outermost ASGI layer: what every HTTP request reports. Its route template, method, status
and time go to the metrics (aegra/telemetry/metrics.py).

The route is the template Litestar matched (`/threads/{thread_id}/runs`), never the raw path, so
that the series stay few; a request no API route matched (a 404, or one the user's own app of
`http.app` answered) counts as `<other>`.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from aegra.telemetry import metrics

OTHER = "<other>"


class ObservedHttp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it answers

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            metrics.http_request(_route(scope), scope["method"], status, time.perf_counter() - started)


def _route(scope: Any) -> str:
    return scope.get("path_template") or OTHER  # type: ignore[no-any-return]
