"""The protocol over a WebSocket (`WebSocket /threads/{thread_id}/stream/events`, langgraph-sdk's
`client.threads.stream(..., transport="websocket")`), as langgraph-api serves it.

Every text frame the client sends is one command (`{"id", "method", "params"}`), answered by one
frame (`{"type": "success" | "error", "id", ...}`): `subscription.subscribe` / `unsubscribe` /
`reconnect` and `agent.getTree` (subscriptions.py), `run.start` and `input.respond` (commands.py,
as over HTTP). The thread's protocol events (stream.py) go out as frames of their own, to the
socket's subscriptions; a thread that does not exist yet (the SDK mints ids; `run.start` creates
the thread) is waited for, and followed once the caller may read it.

What is not a command gets an `invalid_argument` error frame and the socket stays open; a binary
frame closes it with 1003 (unsupported data), a frame over MAX_MESSAGE_BYTES with 1009 (message
too big), a thread id that is not one with 1011, as langgraph-api's server does (it closes with
1011 when its thread stream ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from aegra.auth import RequestAuth
from aegra.domain.protocol import commands
from aegra.domain.protocol.session import sequenced
from aegra.domain.protocol.stream import POLL_SECONDS, thread_events
from aegra.domain.protocol.subscriptions import SESSION_COMMANDS, Subscriptions
from aegra.domain.runs.services import RunService
from aegra.domain.threads.services import ThreadService
from aegra.errors import AegraError, NotFound
from aegra.serialization import dumps

logger = logging.getLogger(__name__)

# The largest command frame: Litestar's limit on a request body (so a command is as large over the
# socket as over `POST .../commands`). langgraph-api (under uvicorn) closes with 1009 past 16 MiB;
# Granian itself drops a frame past 16 MiB (its WebSocket library's frame limit, a close without code).
MAX_MESSAGE_BYTES = 10_000_000
UNSUPPORTED_DATA, MESSAGE_TOO_BIG, INTERNAL_ERROR = 1003, 1009, 1011


class ProtocolSocket:
    """One accepted socket: its commands, its subscriptions and the thread's events it follows."""

    def __init__(self, socket: WebSocket[Any, Any, Any], thread_id: str, runs: RunService,
                 threads: ThreadService, auth: RequestAuth) -> None:  # fmt: skip
        self.socket, self.thread_id = socket, thread_id
        self.runs, self.threads, self.auth = runs, threads, auth
        self.subscriptions = Subscriptions(self._send)

    async def serve(self) -> None:
        follower = asyncio.create_task(self._follow())
        try:
            while (text := await self._receive()) is not None:
                await self.subscriptions.send(await self._answer(text))
        except WebSocketDisconnect:
            pass
        except Exception:  # a bug or a lost database: logged, and the client sees the socket end
            logger.exception("protocol socket on thread %s failed", self.thread_id)
            await self._close(INTERNAL_ERROR, "Internal error")
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower

    async def _receive(self) -> str | None:
        """The next command frame's text; None once the socket is closed (by either side)."""
        message = await self.socket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if not isinstance(text, str):
            await self._close(UNSUPPORTED_DATA, "Protocol commands are JSON text frames")
            return None
        if len(text) * 4 > MAX_MESSAGE_BYTES and len(text.encode()) > MAX_MESSAGE_BYTES:
            await self._close(MESSAGE_TOO_BIG, f"frame exceeds limit of {MAX_MESSAGE_BYTES} bytes")
            return None
        return text

    async def _answer(self, text: str) -> dict[str, Any]:
        command = commands.parse(text)
        if command.get("type") == "error":
            return command
        if command["method"] in SESSION_COMMANDS:
            return await self.subscriptions.command(command)
        answer = await commands.handle(command, self.thread_id, self.runs, self.threads, self.auth)
        # langgraph-api's socket reports how far it has applied events on successes only.
        return {**answer, "meta": self.subscriptions.meta()} if answer["type"] == "success" else answer

    async def _follow(self) -> None:
        """The thread's events, to the subscriptions, from when the caller may read the thread.

        A thread that does not exist, or that this caller may not read, is looked for again every
        POLL_SECONDS: the caller's own `run.start` may create it, and another user's thread never
        shows."""
        try:
            while True:
                try:
                    thread_uuid = await self.runs.existing_thread(self.thread_id, auth=self.auth)
                    break
                except NotFound:
                    await asyncio.sleep(POLL_SECONDS)
            async for event in sequenced(thread_events(self.runs, thread_uuid)):
                await self.subscriptions.deliver(event)
        except AegraError as exc:  # a thread id that is not one
            await self._close(INTERNAL_ERROR, exc.detail)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client left while an event was on its way
        except Exception:  # the thread's stream failed: the client sees it end, as on langgraph-api
            logger.exception("protocol socket: following thread %s failed", self.thread_id)
            await self._close(INTERNAL_ERROR, "thread stream ended")

    async def _send(self, message: dict[str, Any]) -> None:
        await self.socket.send_data(dumps(message).decode(), mode="text")

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            # A close frame's reason holds at most 123 bytes.
            await self.socket.close(code=code, reason=reason.encode()[:120].decode(errors="ignore"))
