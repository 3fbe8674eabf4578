"""How the outermost ASGI layer (server/observed.py) hands a request's body to the app: the chunk
that completes the declared `content-length` is given as the last one, without the extra
`receive()` Granian needs to say the body ended (each one a round trip through its threads).

The server is played by a script of ASGI messages in the order Granian sends them: every data chunk
with `more_body: true`, then an empty end, then (asked again) a wait for the client to go.
`tests/e2e/test_keep_alive.py` checks the same through a real Granian server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aegra.server.observed import ObservedHttp

DISCONNECT = {"type": "http.disconnect"}


class GranianBody:
    """Granian's `receive()` for a body sent in `chunks`, counting the calls."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
        ]
        self.messages.append({"type": "http.request", "body": b"", "more_body": False})
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.messages:
            return self.messages.pop(0)
        return DISCONNECT  # Granian waits for the response to end or the client to go, then says this


def scope(headers: list[tuple[bytes, bytes]], http_version: str = "1.1") -> dict[str, Any]:
    return {"type": "http", "http_version": http_version, "method": "POST", "path": "/x", "root_path": "",
            "query_string": b"", "headers": headers}  # fmt: skip


async def serve(scope: dict[str, Any], server: GranianBody, extra_receives: int = 0) -> list[dict[str, Any]]:
    """What an app that reads the body as Litestar does (until `more_body` is false), then calls
    `receive()` `extra_receives` more times (as a streaming response listens for the disconnect), gets."""
    got: list[dict[str, Any]] = []

    async def app(_: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            got.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        for _ in range(extra_receives):
            got.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(_: Any) -> None:
        pass

    await ObservedHttp(app, access_log=False)(scope, server, send)  # type: ignore[arg-type]
    return got


def body_of(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")


@pytest.mark.parametrize("chunks", [[b'{"a": 1}'], [b'{"a": ', b'"', b'xyz"}']])
def test_the_chunk_that_completes_the_declared_length_is_the_last(chunks: list[bytes]) -> None:
    length = sum(map(len, chunks))
    server = GranianBody(chunks)
    got = asyncio.run(serve(scope([(b"content-length", str(length).encode())]), server))
    assert body_of(got) == b"".join(chunks)
    assert got[-1]["more_body"] is False
    assert all(m["more_body"] for m in got[:-1])  # no chunk before the end is called the last
    assert server.calls == len(chunks)  # not one more for Granian's empty end


def test_after_the_end_the_app_waits_for_the_disconnect_as_before() -> None:
    """Granian's own (empty) end is not handed out a second time: the next message is the disconnect."""
    server = GranianBody([b"{}"])
    got = asyncio.run(serve(scope([(b"content-length", b"2")]), server, extra_receives=1))
    assert got == [{"type": "http.request", "body": b"{}", "more_body": False}, DISCONNECT]


def test_no_body_ends_without_asking_granian() -> None:
    server = GranianBody([])
    got = asyncio.run(serve(scope([(b"content-length", b"0")]), server, extra_receives=1))
    assert got == [{"type": "http.request", "body": b"", "more_body": False}, DISCONNECT]
    assert server.calls == 2  # the disconnect, after Granian's own end was dropped


@pytest.mark.parametrize(
    ("headers", "http_version"),
    [
        ([(b"transfer-encoding", b"chunked")], "1.1"),  # no length: Granian's end is the end
        ([], "2"),  # HTTP/2 may send a body without any header about it
    ],
)
def test_a_body_of_unknown_length_ends_where_granian_says(
    headers: list[tuple[bytes, bytes]], http_version: str
) -> None:
    server = GranianBody([b'{"a": ', b"1}"])
    got = asyncio.run(serve(scope(headers, http_version), server))
    assert body_of(got) == b'{"a": 1}'
    assert [m["more_body"] for m in got] == [True, True, False]
    assert server.calls == 3
