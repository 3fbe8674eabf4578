"""The ASGI app of one server worker: what Granian calls in each worker (aegra/server/process.py).

`aegra serve`: `create_app()`; a configuration error ends the worker with its message.

`aegra dev`, which reloads on every save, keeps serving while code is being edited:
- a graph that fails to import is logged in one line and answers its error (503); the other
  graphs are served (`create_app(keep_broken_graphs=True)`);
- an error that stops the whole app (the config file, the auth file, `http.app`) is logged in
  one line, and every request is answered with it (503) until a save fixes it.

This module is imported by the server's main process too, before it forks the workers: it
imports nothing of the app at module level.
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("aegra.server")


def load_app(*, dev: bool) -> Any:
    from aegra.server.app import create_app

    if not dev:
        return create_app()
    from aegra.config import ConfigError

    try:
        return create_app(keep_broken_graphs=True)
    except ConfigError as exc:
        logger.error("%s", exc)
        return UnavailableApp(f"{exc}. Fix it and save: the server reloads")


class UnavailableApp:
    """An ASGI app that answers every HTTP request with 503 `{"detail": <why>}`."""

    def __init__(self, detail: str) -> None:
        self.body = json.dumps({"detail": detail}).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": self.body})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
