"""Runs routes: on a thread (`/threads/{thread_id}/runs...`) and stateless (`/runs...`).

Thin: parse, call RunService, and shape the response as langgraph-api does: SSE for streams
(with `Location`/`Content-Location`), chunked JSON with keep-alives for `wait`/`join`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Stream

from aegra.auth import RequestAuth
from aegra.domain.runs import schemas
from aegra.domain.runs.broker import StreamEvent
from aegra.domain.runs.services import RunService
from aegra.domain.runs.sse import call_in_background, disconnected, json_when_done, sse_stream
from aegra.domain.schemas import INT64_MAX, selected
from aegra.domain.webhooks.schemas import WebhookDelivery
from aegra.errors import Invalid
from aegra.serialization import dumps

CancelAction = Literal["interrupt", "rollback"]
SSE = "text/event-stream"


def _keepalive(state: State) -> float:
    return state.settings.keepalive_interval_secs


async def _result_response(result: Awaitable[Any], state: State, *, headers: dict[str, str] | None = None,
                           request: Request[Any, Any, Any] | None = None,
                           on_disconnect: Callable[[], Awaitable[None]] | None = None) -> Response[Any]:  # fmt: skip
    """What wait and join answer: a plain JSON response when the result is ready within the first
    keep-alive interval (the client reads the same bytes: no keep-alive newline was due yet, and
    it spares the chunked machinery most runs never need), else chunked JSON with keep-alive
    newlines from here on (sse.json_when_done). `on_disconnect` runs if the client hangs up
    first (then `request` is needed, to hear it before the response starts)."""
    interval = _keepalive(state)
    task = asyncio.ensure_future(result)
    hangup = asyncio.ensure_future(disconnected(request.receive)) if on_disconnect and request else None
    waiting = {task} if hangup is None else {task, hangup}
    try:
        done, _ = await asyncio.wait(waiting, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        for future in waiting:
            future.cancel()
        raise
    if hangup is not None:
        hangup.cancel()
        if hangup in done and task not in done:
            task.cancel()
            call_in_background(on_disconnect)
            return Response(b"", media_type="application/json")  # nobody is left to read it
    if task in done:
        return Response(dumps(task.result()), media_type="application/json", headers=headers)
    body = json_when_done(task, keepalive=interval, on_disconnect=on_disconnect)
    return Stream(body, media_type="application/json", headers=headers)


def _canceller(runs: RunService, auth: RequestAuth, thread_id: str | None, run_id: str,
               cancel: bool) -> Callable[[], Awaitable[None]] | None:  # fmt: skip
    """What to do when the client of a wait/join/stream hangs up: cancel the run, if asked."""
    if not cancel:
        return None

    async def on_disconnect() -> None:
        await runs.cancel(thread_id, run_id, "interrupt", auth=auth)

    return on_disconnect


def _run_path(run: schemas.Run, stateless: bool) -> str:
    return f"/runs/{run.run_id}" if stateless else f"/threads/{run.thread_id}/runs/{run.run_id}"


def _last_event_id(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("last-event-id")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"Invalid Last-Event-ID {raw!r}") from None


async def _only_modes(events: AsyncIterator[StreamEvent], modes: list[str] | None) -> AsyncIterator[StreamEvent]:
    """A join may ask for a subset of the run's modes; `metadata`, `error` and `end` always pass."""
    modes = [mode for mode in modes or [] if mode]  # the SDK sends `stream_mode=` when it has none
    async for event in events:
        mode = event.event.split("|", 1)[0].split("/", 1)[0]
        if not modes or mode in modes or mode in ("metadata", "error", "end"):
            yield event


async def _stream_created(runs: RunService, auth: RequestAuth, state: State, thread_id: str | None,
                          data: schemas.RunCreate) -> Stream:  # fmt: skip
    run = await runs.create(thread_id, data, auth=auth)
    path = _run_path(run, thread_id is None)
    body = sse_stream(
        runs.events(None, str(run.run_id), auth=auth, just_created=True),
        with_ids=data.stream_resumable,
        keepalive=_keepalive(state),
        on_disconnect=_canceller(runs, auth, None, str(run.run_id), data.on_disconnect == "cancel"),
    )
    headers = {"Location": f"{path}/stream", "Content-Location": path}
    return Stream(body, media_type=SSE, headers=headers)


async def _wait_created(runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any],
                        thread_id: str | None, data: schemas.RunCreate) -> Response[Any]:  # fmt: skip
    run = await runs.create(thread_id, data, auth=auth)
    path = _run_path(run, thread_id is None)
    result = runs.result(None, str(run.run_id), auth=auth, just_created=True)
    on_disconnect = _canceller(runs, auth, None, str(run.run_id), data.on_disconnect == "cancel")
    headers = {"Location": f"{path}/join", "Content-Location": path}
    return await _result_response(result, state, headers=headers, request=request, on_disconnect=on_disconnect)


async def _join(runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any],
                thread_id: str | None, run_id: str, cancel_on_disconnect: bool) -> Response[Any]:  # fmt: skip
    run = await runs.get(thread_id, run_id, auth=auth)  # 404 before the response starts
    on_disconnect = _canceller(runs, auth, thread_id, run_id, cancel_on_disconnect)
    result = runs.result(thread_id, run_id, auth=auth, seen=run)
    return await _result_response(result, state, request=request, on_disconnect=on_disconnect)


async def _join_stream(runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any],
                       thread_id: str | None, run_id: str, stream_mode: list[str] | None,
                       cancel_on_disconnect: bool) -> Stream:  # fmt: skip
    run = await runs.get(thread_id, run_id, auth=auth)  # 404 before the response starts
    on_disconnect = _canceller(runs, auth, thread_id, run_id, cancel_on_disconnect)
    after = _last_event_id(request)
    # Without `Last-Event-ID`, the events from now on (langgraph-sdk: "Output is not buffered, so
    # any output produced before this call will not be received here"); with it, those after it.
    events = runs.events(thread_id, run_id, auth=auth, after=after, live_only=after is None, seen=run)
    events = _only_modes(events, stream_mode)
    body = sse_stream(events, with_ids=True, keepalive=_keepalive(state), on_disconnect=on_disconnect)
    return Stream(body, media_type=SSE)


class ThreadRunController(Controller):
    path = "/threads/{thread_id:str}/runs"
    tags = ["Thread Runs"]

    @post("/", status_code=200, summary="Create a background run")
    async def create_run(
        self, runs: RunService, auth: RequestAuth, thread_id: str, data: schemas.RunCreate
    ) -> Response[schemas.Run]:
        run = await runs.create(thread_id, data, auth=auth)
        return Response(run, headers={"Content-Location": _run_path(run, False)})

    @post("/stream", status_code=200, media_type=SSE, summary="Create a run and stream its output")
    async def stream_run(
        self, runs: RunService, auth: RequestAuth, state: State, thread_id: str, data: schemas.RunCreate
    ) -> Stream:
        return await _stream_created(runs, auth, state, thread_id, data)

    @post("/wait", status_code=200, summary="Create a run and wait for its result")
    async def wait_run(
        self, runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any], thread_id: str,
        data: schemas.RunCreate,
    ) -> Response[Any]:  # fmt: skip
        return await _wait_created(runs, auth, state, request, thread_id, data)

    @get("/", summary="List a thread's runs")
    async def list_runs(
        self,
        runs: RunService,
        auth: RequestAuth,
        thread_id: str,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 10,
        offset: Annotated[int, Parameter(ge=0, le=INT64_MAX)] = 0,
        status: schemas.RunStatus | None = None,
        select: list[schemas.RunField] | None = None,
    ) -> Response[list[dict[str, Any]]]:
        page = await runs.list(thread_id, auth=auth, limit=limit, offset=offset, status=status)
        return Response([selected(run, select) for run in page.items], headers=page.headers())

    @get("/{run_id:str}", summary="Get a run")
    async def get_run(self, runs: RunService, auth: RequestAuth, thread_id: str, run_id: str) -> schemas.Run:
        return await runs.get(thread_id, run_id, auth=auth)

    @delete("/{run_id:str}", status_code=204, summary="Delete a finished run")
    async def delete_run(self, runs: RunService, auth: RequestAuth, thread_id: str, run_id: str) -> None:
        await runs.delete(thread_id, run_id, auth=auth)

    @get("/{run_id:str}/join", summary="Wait for a run's result")
    async def join_run(
        self, runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any], thread_id: str,
        run_id: str, cancel_on_disconnect: bool = False,
    ) -> Response[Any]:  # fmt: skip
        return await _join(runs, auth, state, request, thread_id, run_id, cancel_on_disconnect)

    @get("/{run_id:str}/stream", media_type=SSE, summary="Join a run's stream (replays from Last-Event-ID)")
    async def join_run_stream(
        self, runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any], thread_id: str,
        run_id: str, stream_mode: list[str] | None = None, cancel_on_disconnect: bool = False,
    ) -> Stream:  # fmt: skip
        return await _join_stream(runs, auth, state, request, thread_id, run_id, stream_mode, cancel_on_disconnect)

    @get("/{run_id:str}/webhooks", summary="A run's webhook deliveries and their attempts (Aegra)")
    async def run_webhooks(
        self, runs: RunService, auth: RequestAuth, thread_id: str, run_id: str
    ) -> list[WebhookDelivery]:
        return await runs.webhook_deliveries(thread_id, run_id, auth=auth)

    @post("/{run_id:str}/cancel", status_code=202, summary="Cancel a run")
    async def cancel_run(
        self, runs: RunService, auth: RequestAuth, state: State, thread_id: str, run_id: str, wait: bool = False,
        action: CancelAction = "interrupt",
    ) -> Response[Any]:  # fmt: skip
        await runs.cancel(thread_id, run_id, action, auth=auth)
        if not wait:
            return Response(None, status_code=202)
        return await _result_response(runs.result(thread_id, run_id, auth=auth), state)


class StatelessRunController(Controller):
    path = "/runs"
    tags = ["Stateless Runs"]

    @post("/", status_code=200, summary="Create a stateless background run")
    async def create_run(self, runs: RunService, auth: RequestAuth, data: schemas.RunCreate) -> Response[schemas.Run]:
        run = await runs.create(None, data, auth=auth)
        return Response(run, headers={"Content-Location": _run_path(run, True)})

    @post("/stream", status_code=200, media_type=SSE, summary="Create a stateless run and stream its output")
    async def stream_run(self, runs: RunService, auth: RequestAuth, state: State, data: schemas.RunCreate) -> Stream:
        return await _stream_created(runs, auth, state, None, data)

    @post("/wait", status_code=200, summary="Create a stateless run and wait for its result")
    async def wait_run(
        self, runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any],
        data: schemas.RunCreate,
    ) -> Response[Any]:  # fmt: skip
        return await _wait_created(runs, auth, state, request, None, data)

    @post("/batch", status_code=200, summary="Create several stateless background runs")
    async def create_batch(
        self, runs: RunService, auth: RequestAuth, data: list[schemas.RunCreate]
    ) -> list[schemas.Run]:
        return [await runs.create(None, item, auth=auth) for item in data]

    @get("/{run_id:str}/join", summary="Wait for a stateless run's result")
    async def join_run(
        self, runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any], run_id: str,
        cancel_on_disconnect: bool = False,
    ) -> Response[Any]:  # fmt: skip
        return await _join(runs, auth, state, request, None, run_id, cancel_on_disconnect)

    @get("/{run_id:str}/stream", media_type=SSE, summary="Join a stateless run's stream")
    async def join_run_stream(
        self, runs: RunService, auth: RequestAuth, state: State, request: Request[Any, Any, Any], run_id: str,
        stream_mode: list[str] | None = None, cancel_on_disconnect: bool = False,
    ) -> Stream:  # fmt: skip
        return await _join_stream(runs, auth, state, request, None, run_id, stream_mode, cancel_on_disconnect)

    @get("/{run_id:str}/webhooks", summary="A run's webhook deliveries and their attempts (Aegra)")
    async def run_webhooks(self, runs: RunService, auth: RequestAuth, run_id: str) -> list[WebhookDelivery]:
        return await runs.webhook_deliveries(None, run_id, auth=auth)

    @post("/cancel", status_code=204, summary="Cancel runs in bulk")
    async def cancel_many(
        self, runs: RunService, auth: RequestAuth, data: schemas.BulkCancel, action: CancelAction = "interrupt"
    ) -> None:
        await runs.cancel_many(data, action, auth=auth)


class ThreadStreamController(Controller):
    path = "/threads/{thread_id:str}/stream"
    tags = ["Thread Runs"]

    @get("/", media_type=SSE, summary="Join the stream of every run in flight on a thread")
    async def join_thread_stream(
        self, runs: RunService, auth: RequestAuth, state: State, thread_id: str, stream_mode: list[str] | None = None,
        stream_modes: list[str] | None = None,
    ) -> Stream:  # fmt: skip
        # The SDK sends `stream_mode`; langgraph-api reads `stream_modes`: accept both.
        modes = [*(stream_mode or []), *(stream_modes or [])]
        run_modes = [mode for mode in modes if mode not in ("run_modes", "lifecycle", "state_update")]
        thread_uuid = await runs.existing_thread(thread_id, auth=auth)  # 404 before the response starts
        events = _only_modes(runs.thread_events(thread_uuid), run_modes)
        body = sse_stream(events, with_ids=False, keepalive=_keepalive(state))
        return Stream(body, media_type=SSE)
