"""Authentication at the edge: every API request (and, with `http.enable_custom_route_auth`, every
custom route) runs `@auth.authenticate` before its handler; the result reaches handlers as the
`auth: RequestAuth` dependency, which controllers pass to services (aegra/auth/context.py).

Open without authentication, as on langgraph-api: `/ok`, `/info`, `/docs`, `/openapi.json` (health
checks and the API's description hold no user data), and CORS preflights. So is the console under
`/ui`: its pages are shells and scripts that hold no user data either; they fetch everything from
the API with the user's token (aegra/ui/). So is Aegra's `/metrics` (counts, no user data), unless
`http.metrics_auth` puts it behind the auth handler. Paths are judged below `http.mount_prefix`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from aegra.auth import ANONYMOUS, Authenticator, AuthError, RequestAuth
from aegra.errors import AegraError
from aegra.server.errors import send_error
from aegra.server.mount_prefix import strip_root_path
from aegra.telemetry import logs

SCOPE_KEY = "aegra.auth"
OPEN_PATHS = frozenset({"/ok", "/info", "/openapi.json", "/docs", "/ui", "/metrics"})
OPEN_TREES = ("/docs/", "/ui/")


def is_open(scope: Mapping[str, Any]) -> bool:
    path = strip_root_path(cast(Scope, scope)).rstrip("/") or "/"
    return scope.get("method") == "OPTIONS" or path in OPEN_PATHS or path.startswith(OPEN_TREES)


class AuthMiddleware:
    """ASGI middleware: authenticate, put the `RequestAuth` in the scope, or answer the error."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, *, open_paths: bool = True,
                 protect_metrics: bool = False) -> None:  # fmt: skip
        self.app = app
        self.authenticator = authenticator
        self.open_paths = open_paths
        self.protect_metrics = protect_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (self.open_paths and self._is_open(scope)):
            await self.app(scope, receive, send)
            return
        try:
            request_auth = await self.authenticator.authenticate(scope, _request)
        except AegraError as exc:
            await send_error(scope, send, exc)
            return
        scope[SCOPE_KEY] = request_auth  # type: ignore[literal-required]
        scope["user"] = request_auth.user  # `request.user` in Starlette and FastAPI custom routes
        if request_auth.user is not ANONYMOUS:  # open access: no user to name
            logs.add(user=request_auth.user.identity)  # on every line of the request, its access line too
        await self.app(scope, receive, send)

    def _is_open(self, scope: Scope) -> bool:
        if self.protect_metrics and strip_root_path(scope).rstrip("/") == "/metrics":
            return False
        return is_open(scope)


def get_request_auth(scope: Scope) -> RequestAuth:
    """Litestar dependency `auth`, for HTTP and WebSocket handlers alike (both have a `scope`).
    Missing means the middleware did not run: refuse rather than guess."""
    request_auth = scope.get(SCOPE_KEY)
    if request_auth is None:
        raise AuthError("Not authenticated")
    return cast(RequestAuth, request_auth)


def _request(scope: Mapping[str, Any]) -> Request[Any, Any, Any]:
    """What `@auth.authenticate(request)` receives: Litestar's request (headers, url, query_params...).

    A custom route (`http.app`) is not routed yet, so its scope has no `path_params`, which
    Litestar's `request.path_params` needs: it gets empty ones (the user's router merges its own
    in later), as a Starlette request answers in langgraph-api.
    """
    if "path_params" not in scope:
        cast(dict[str, Any], scope)["path_params"] = {}
    return Request(cast(Scope, scope))
