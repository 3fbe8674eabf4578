"""Keep-alive connections survive answers given before the request's body was read (a 404, a
401 from the auth layer, a route that takes no body), through a real Granian server.

Granian closes such a connection after the response unless the body has been read by then; a
client that was told nothing sends its next request on it and gets "server disconnected" (seen
in the auth matrix test, whose 401 went out before its body arrived). A small body is read after
the answer; a large one is not waited for, and the answer says `connection: close`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.server import RunningServer, serve_on_backend

BODY_LATE_SECONDS = 0.3


@pytest.fixture(scope="module", params=["sqlite"])  # the HTTP layer: the backend does not matter
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve_on_backend(request, tmp_path_factory.mktemp("keep-alive"), TEST_GRAPHS_CONFIG)


def _connect(server: RunningServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _head(path: str, length: int, method: str = "POST") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()  # fmt: skip


def _response(connection: socket.socket) -> bytes:
    """One whole response (these have a content-length), or what came before the close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")),
        0,  # a 204
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_body_sent_after_an_early_answer_leaves_the_connection_usable(server: RunningServer) -> None:
    body = b'{"graph_id": "agent"}'
    with _connect(server) as connection:
        connection.sendall(_head("/no/such/route", len(body)))
        first = _response(connection)  # answered from the headers alone
        assert first.startswith(b"HTTP/1.1 404"), first
        assert b"connection: close" not in first.lower()
        time.sleep(BODY_LATE_SECONDS)
        connection.sendall(body)
        time.sleep(BODY_LATE_SECONDS)
        connection.sendall(b"GET /ok HTTP/1.1\r\nHost: test\r\n\r\n")  # the next request, same connection
        second = _response(connection)
    assert second.startswith(b"HTTP/1.1 200"), f"the connection was dropped: {second!r}"


def test_a_large_unread_body_is_not_waited_for_and_the_answer_says_so(server: RunningServer) -> None:
    body = b"x" * 200_000
    with _connect(server) as connection:
        connection.sendall(_head("/no/such/route", len(body)))
        first = _response(connection)
    assert first.startswith(b"HTTP/1.1 404"), first
    assert b"connection: close" in first.lower()


def test_a_body_sent_in_parts_arrives_whole_and_the_connection_serves_the_next_request(server: RunningServer) -> None:
    """The app gets the chunk that completes the content-length as the body's last (server/observed.py):
    cut one chunk early, the JSON would be truncated (422); and the connection must stay usable
    although the app never asked Granian for the body's end."""
    value = {"text": "x" * 300_000}
    body = json.dumps({"namespace": ["keep-alive"], "key": "parts", "value": value}).encode()
    search = json.dumps({"namespace_prefix": ["keep-alive"]}).encode()
    with _connect(server) as connection:
        connection.sendall(_head("/store/items", len(body), method="PUT"))
        for part in (body[:10], body[10:150_000], body[150_000:]):
            time.sleep(0.1)  # each part its own chunk
            connection.sendall(part)
        stored = _response(connection)
        assert stored.startswith(b"HTTP/1.1 204"), stored
        connection.sendall(_head("/store/items/search", len(search)) + search)  # same connection
        found = _response(connection)
    assert found.startswith(b"HTTP/1.1 200"), f"the connection was dropped: {found!r}"
    items = json.loads(found.partition(b"\r\n\r\n")[2])["items"]
    assert [item["value"] for item in items] == [value]
