"""The ASGI app a worker serves from its first moment, while the real one loads behind it.

Importing the app (Litestar, which imports advanced-alchemy, SQLAlchemy and numpy when they are
installed; LangGraph; our domain) and opening it (the lifespan: database, migrations, the
store's index) takes one to two seconds of CPU. Granian only starts accepting once the app's
lifespan has started, so the server used to answer nothing for that long. Here the worker
accepts at once, and the app is loaded in a thread and started in the background:

- `GET /ok` (liveness) is answered at once, as the app answers it without `check_db`: the process
  is up. Everything else (`/ok?check_db=1`, readiness, included) waits until the app is started,
  then goes to it: a request sent during the warm-up is answered late, never refused.
- If loading or starting the app fails, requests waiting get 503 with the error, the error is
  logged as Granian logs a failed lifespan, and the worker exits 1: Granian then stops (`serve`),
  or waits for the next save (`dev`), as it did when the failure came before accepting.
- A stop during the warm-up does not wait for the import: the thread is a daemon, and an app
  whose lifespan started is shut down normally.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from aegra.server.worker_app import UnavailableApp, load_app
from aegra.telemetry.error_log import ErrorLogged

logger = logging.getLogger("aegra.server")

OK_BODY = b'{"ok":true,"services":{"database":"skipped"}}'
OK_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(OK_BODY)).encode())]


def warming_app(*, dev: bool) -> WarmingApp:
    """What Granian calls in each worker (aegra/server/process.py)."""
    return WarmingApp(partial(load_app, dev=dev))


class WarmingApp:
    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._app: Any = None  # the real app, once its lifespan has started
        self._ready: asyncio.Event | None = None
        self._loaded: Any = None  # the real app, from its import until it is ready
        self._started: asyncio.Future[None] | None = None  # its lifespan's startup
        self._stopping = False
        self._inner_lifespan: _Lifespan | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app
        if app is not None:
            await app(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif _is_liveness(scope):
            await send({"type": "http.response.start", "status": 200, "headers": OK_HEADERS})
            await send({"type": "http.response.body", "body": OK_BODY})
        else:
            assert self._ready is not None, "the server sends the lifespan startup before any request"
            await self._ready.wait()
            await self._app(scope, receive, send)

    async def _lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # lifespan.startup
        self._ready = asyncio.Event()
        loop = asyncio.get_running_loop()
        imported: asyncio.Future[Any] = loop.create_future()
        # A daemon thread, not the loop's executor: a stop during the import must not wait for it.
        threading.Thread(target=self._import, args=(loop, imported), name="aegra-app-import", daemon=True).start()
        warm_up = loop.create_task(self._warm_up(imported, scope.get("state")))
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        self._stopping = True
        if self._inner_lifespan is not None:  # the app's lifespan began: let it finish, then stop it
            await asyncio.wait([warm_up])
            await self._inner_lifespan.shutdown()
        else:
            warm_up.cancel()
        await send({"type": "lifespan.shutdown.complete"})

    def _import(self, loop: asyncio.AbstractEventLoop, imported: asyncio.Future[Any]) -> None:
        try:
            app = self._load()
        except BaseException as exc:  # handed to the loop, which reports it
            loop.call_soon_threadsafe(_settle, imported, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, imported, app, None)

    async def _warm_up(self, imported: asyncio.Future[Any], state: Any) -> None:
        assert self._ready is not None
        try:
            app = await imported
            if self._stopping:
                return
            self._inner_lifespan = _Lifespan(app, state)
            await self._inner_lifespan.startup()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the worker ends with it, as before it accepted
            await self._fail(exc)
            return
        self._app = app
        self._ready.set()

    async def _fail(self, exc: BaseException) -> None:
        assert self._ready is not None
        from aegra.config import ConfigError

        logged, user_error = _first(exc, ErrorLogged), _first(exc, ConfigError)
        if logged is not None:  # the app's own lifespan logged it (server/observed.py)
            exc = logged
        elif user_error is not None:  # the user's mistake (a graph that fails to import...): one line
            exc = user_error
            logger.error("%s", exc)
        elif isinstance(exc, StartupFailed):  # the app's message holds its traceback already
            logger.error("ASGI lifespan startup failed: %s", exc)
        else:
            logger.error("The app failed to load: %s", exc, exc_info=exc)
        why = next((line.strip() for line in reversed(str(exc).splitlines()) if line.strip()), type(exc).__name__)
        self._app = UnavailableApp(f"the server failed to start: {why}")
        self._ready.set()
        await asyncio.sleep(0.2)  # the requests that were waiting get their answer
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled: the server stopped during the import
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _first(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """`exc`, its cause or one of the exceptions it groups that is a `kind`, if any."""
    if exc is None or isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first(inner, kind)
            if found is not None:
                return found
    return _first(exc.__cause__, kind)


def _is_liveness(scope: dict[str, Any]) -> bool:
    if scope["type"] != "http" or scope["path"] != "/ok" or scope["method"] != "GET":
        return False
    query = scope.get("query_string", b"")
    return not query or query in (b"check_db=0", b"check_db=false")


class StartupFailed(RuntimeError):
    """The app answered `lifespan.startup.failed` (its message: the error, often a traceback)."""


class _Lifespan:
    """Drives an ASGI app's lifespan (startup now, shutdown later) as a server does."""

    def __init__(self, app: Any, state: Any) -> None:
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}}
        if state is not None:
            scope["state"] = state
        self._task = asyncio.get_running_loop().create_task(app(scope, self._to_app.get, self._from_app.put))

    async def _exchange(self, message: str) -> None:
        await self._to_app.put({"type": f"lifespan.{message}"})
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait([answer, self._task], return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # raises what the app raised
            raise RuntimeError(f"the app ended its lifespan without answering {message}")
        reply = answer.result()
        if reply["type"].endswith(".failed"):
            # The app raises what failed after answering: keep it, the message is its traceback.
            await asyncio.wait([self._task], timeout=1.0)
            cause = self._task.exception() if self._task.done() and not self._task.cancelled() else None
            raise StartupFailed(reply.get("message") or f"lifespan {message} failed") from cause

    async def startup(self) -> None:
        await self._exchange("startup")

    async def shutdown(self) -> None:
        if self._task.done():
            return
        try:
            await self._exchange("shutdown")
        except Exception:
            logger.exception("The app failed to shut down")
