"""`http.app`: the user's own ASGI app (Litestar, Starlette, FastAPI...) served beside the API.

The API keeps its paths: a request goes to the user's app only when no API route matches its
path, so a custom route can never shadow an API route, and /openapi.json stays the API's.
With `http.enable_custom_route_auth` the custom routes are authenticated like the API's (the
user is in `scope["user"]`, i.e. `request.user` in Starlette); without it they are public.
The user app's lifespan (startup/shutdown hooks) runs inside the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils import normalize_path

from aegra.auth.loading import import_object
from aegra.config import ConfigError, Settings
from aegra.server.mount_prefix import strip_root_path


def load_custom_app(settings: Settings) -> ASGIApp | None:
    http = settings.config.http
    if not (http and http.app):
        return None
    app = import_object("http.app", http.app, settings.config, settings.base_dir)
    if not callable(app):
        raise ConfigError(f"http.app ({http.app}): expected an ASGI application, got {type(app).__name__}")
    return app


class ApiThenCustom:
    """The ASGI app Granian serves when `http.app` is set: the API first, the user's app for the rest."""

    def __init__(self, api: Litestar, custom: ASGIApp) -> None:
        self.api = api
        self.custom = custom

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._api_has(scope):
            await self.custom(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    def _api_has(self, scope: Scope) -> bool:
        try:
            path = normalize_path(strip_root_path(scope))
            self.api.asgi_router.handle_routing(path=path, method=scope.get("method"))
        except MethodNotAllowedException:
            return True  # the API owns the path; it answers 405
        except NotFoundException:
            return False
        return True


def lifespan_of(user_app: ASGIApp) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan hook that runs `user_app`'s startup and shutdown inside the server's."""
    return lambda _: _asgi_lifespan(user_app)


@asynccontextmanager
async def _asgi_lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Drive the ASGI lifespan protocol of `app`; an app that does not speak it is simply started."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task: asyncio.Task[None] = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    reply = await _reply(task, outbox)
    if reply is None:  # the app returned or raised at once: no lifespan support
        yield
        return
    if reply["type"] == "lifespan.startup.failed":
        raise ConfigError(f"http.app failed to start: {reply.get('message') or 'startup failed'}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await _reply(task, outbox)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def _reply(task: asyncio.Task[Any], outbox: asyncio.Queue[dict[str, Any]]) -> dict[str, Any] | None:
    getter = asyncio.ensure_future(outbox.get())
    done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it: no lifespan support is not an error
    return None
