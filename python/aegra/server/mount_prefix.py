"""`http.mount_prefix`: serve the whole server under a path prefix (e.g. behind a proxy at `/agents`).

As langgraph-api: every route moves under the prefix, while `/` and `/ok` stay at the root too
so that health checks need no change. Paths keep the prefix and `root_path` names it (the ASGI
way), so the API, the user's `http.app` and generated URLs all see where they are mounted.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

from aegra.config import ConfigError
from aegra.errors import NotFound
from aegra.server.errors import send_error

_ROOT_PATHS = ("/", "/ok")  # still answered at the root


def validate_mount_prefix(prefix: str | None) -> str | None:
    """The prefix without a trailing slash; a clear error for one that cannot work."""
    if not prefix:
        return None
    if not prefix.startswith("/"):
        raise ConfigError(f"http.mount_prefix {prefix!r} must start with '/' (e.g. '/my-api')")
    prefix = prefix.rstrip("/")
    if not prefix:
        return None
    if prefix == "/noauth" or prefix.startswith("/noauth/"):
        raise ConfigError(f"http.mount_prefix {prefix!r}: '/noauth' is reserved by LangGraph's SDK loopback")
    return prefix


def strip_root_path(scope: Scope) -> str:
    """The request's path below its mount point (`root_path`)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


class MountedUnder:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == self.prefix or path.startswith(self.prefix + "/"):
            root = scope.get("root_path", "") + self.prefix
            await self.app({**scope, "root_path": root}, receive, send)  # type: ignore[arg-type]
        elif path in _ROOT_PATHS:
            await self.app(scope, receive, send)
        else:
            await send_error(scope, send, NotFound("Not Found"))
