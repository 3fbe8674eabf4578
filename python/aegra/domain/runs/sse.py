"""Server-sent events as langgraph-api writes them (its `sse.py`, with resumable streams and
`Last-Event-ID`), and the chunked JSON of `wait`/`join` with its keep-alive newlines.

Frames are `event: <name>\\r\\ndata: <json>\\r\\n[id: <id>\\r\\n]\\r\\n`; a `: heartbeat`
comment goes out whenever nothing else did for the keep-alive interval, so proxies and the
SDK keep the connection open through long silent steps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aegra.domain.runs.broker import StreamEvent
from aegra.serialization import dumps

HEARTBEAT = b": heartbeat\r\n\r\n"
_DONE = object()
# Disconnect callbacks run as tasks of their own (a closing generator cannot await safely);
# keep references so they are not garbage-collected before they finish.
_background: set[asyncio.Task[None]] = set()


def frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    clean = event.replace("\r", "").replace("\n", "")
    parts = [b"event: ", clean.encode(), b"\r\ndata: ", data, b"\r\n"]
    if event_id is not None:
        parts += [b"id: ", str(event_id).encode(), b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


async def _with_keepalive(source: AsyncIterator[Any], interval: float) -> AsyncIterator[Any]:
    """Items of `source`, with `None` whenever `interval` passes without one.

    The source is pumped by its own task into a queue: cancelling a pending `__anext__` on a
    timeout would break an async generator, waiting on a queue with a timeout does not.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(item)
        except Exception as exc:  # surfaced to the consumer below
            await queue.put(exc)
        finally:
            await queue.put(_DONE)

    task = asyncio.create_task(pump())
    try:
        while True:
            try:
                async with asyncio.timeout(interval):
                    item = await queue.get()
            except TimeoutError:
                yield None
                continue
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def sse_stream(events: AsyncIterator[StreamEvent], *, with_ids: bool, keepalive: float,
                     on_disconnect: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[bytes]:  # fmt: skip
    """SSE bytes for a run's events; `on_disconnect` runs if the client goes away mid-stream."""
    finished = False
    try:
        async for event in _with_keepalive(events, keepalive):
            if event is None:
                yield HEARTBEAT
            else:
                yield frame(event.event, event.data, event.id if with_ids else None)
        finished = True
    finally:
        if not finished:
            call_in_background(on_disconnect)


async def json_when_done(
    result: Awaitable[Any], *, keepalive: float, on_disconnect: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[bytes]:
    """For a caller that already waited one keep-alive interval: `\\n` at once, then every `keepalive`
    seconds until `result` is ready, then its JSON; `on_disconnect` as in `sse_stream`."""

    async def once() -> AsyncIterator[Any]:
        yield await result

    finished = False
    try:
        yield b"\n"
        async for item in _with_keepalive(once(), keepalive):
            yield b"\n" if item is None else dumps(item)
        finished = True
    finally:
        if not finished:
            call_in_background(on_disconnect)


def call_in_background(callback: Callable[[], Awaitable[None]] | None) -> None:
    """Run `callback` as a task of its own: a closing generator (or a finished handler) cannot await it."""
    if callback is None:
        return
    task = asyncio.ensure_future(callback())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def disconnected(receive: Callable[[], Awaitable[Any]]) -> None:
    """Returns when the client hangs up (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
