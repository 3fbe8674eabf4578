"""One webhook POST: HTTP/1.1 over asyncio streams, the answer parsed by httptools (llhttp).

Why not httpx, which the server's other HTTP calls use: measured here, one POST to a local
receiver cost 1.5 ms of CPU through `httpx.AsyncClient` (1.0 ms through httpcore, 0.3 ms through
aiohttp, 0.25 ms with h11) and 0.1 ms this way, against the 3-5 ms a whole run costs the server;
a run with a webhook has a budget of a tenth of that. A webhook is one kind of request (a POST
of a JSON body, whose answer is read at most `BODY_LIMIT` bytes far), so what is written by hand
is the request's head; parsing the answer, the part with the traps, is llhttp's.

The connection goes to the address the policy checked (`policy.Target`), with the URL's host in
`Host` and in TLS's SNI, and is kept alive for the next attempt to the same receiver. Relative
URLs are this server's own routes, called in-process through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import SplitResult, quote, unquote

import certifi
import httptools

from aegra import __version__
from aegra.domain.webhooks.policy import Target

if TYPE_CHECKING:
    # Imported where used: httpx brings its command line (rich, pygments) along, a tenth of startup.
    import httpx

BODY_LIMIT = 1024  # bytes of an answer's body read; the rest is never read (the connection closes)
IDLE_SECONDS = 10.0  # an idle kept-alive connection older than this is closed, not reused
MAX_IDLE_PER_HOST = 32
LOOPBACK_BASE = "http://aegra.loopback"
USER_AGENT = f"Aegra-Webhooks/{__version__}"
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


class Answer(NamedTuple):
    status: int
    body: bytes  # at most BODY_LIMIT bytes
    location: str | None  # the `Location` header, for redirects


class _Stale(Exception):
    """A kept-alive connection was closed by the receiver before this request got an answer."""


class _Reading:
    """httptools' callbacks: the parts of one answer that matter here."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.body = b""
        self.location: str | None = None
        self.headers_done = False
        self.complete = False
        self.overflow = False
        self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"location":
            self.location = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = not self._informational()

    def on_body(self, body: bytes) -> None:
        room = BODY_LIMIT - len(self.body)
        self.body += body[:room]
        self.overflow = self.overflow or len(body) > room

    def on_message_complete(self) -> None:
        # A 100 Continue (or another 1xx) precedes the answer: keep reading.
        self.complete = not self._informational()
        # Asked here: once the message is done the parser has moved on, and says False.
        self.keep_alive = self.parser.should_keep_alive()

    def _informational(self) -> bool:
        return 100 <= self.parser.get_status_code() < 200


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class WebhookHttp:
    def __init__(self, loopback_app: Any | None = None) -> None:
        self._loopback_app = loopback_app
        self._loopback: httpx.AsyncClient | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._heads: dict[SplitResult, bytes] = {}  # the part of a request that only its URL decides
        self._tls: ssl.SSLContext | None = None

    async def post(self, target: Target, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` to `target`; network and protocol errors raise (OSError, httptools errors)."""
        key = (target.url.scheme, target.host, target.port)
        head = self._heads.get(target.url)
        if head is None:
            if len(self._heads) >= 1024:
                self._heads.clear()
            head = self._heads[target.url] = _head(target)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = b"%sContent-Length: %d\r\n%s\r\n%s" % (head, len(body), extra.encode(), body)
        connection = self._take_idle(key)
        if connection is not None:
            try:
                return await self._exchange(connection, key, request, reused=True)
            except _Stale:
                pass  # the receiver closed it meanwhile, as it may any idle connection: once more, anew
        connection = await self._connect(target)
        return await self._exchange(connection, key, request, reused=False)

    async def post_in_process(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """A relative webhook: this server's own route, called through its ASGI app."""
        if self._loopback_app is None:
            raise RuntimeError("relative webhooks need the server's app, which this process does not have")
        if self._loopback is None:
            import httpx

            transport = httpx.ASGITransport(app=self._loopback_app)
            self._loopback = httpx.AsyncClient(transport=transport, base_url=LOOPBACK_BASE)
        sent = {"content-type": "application/json", "user-agent": USER_AGENT, **headers}
        response = await self._loopback.post(path, content=body, headers=sent)
        return Answer(response.status_code, response.content[:BODY_LIMIT], response.headers.get("location"))

    def close_idle(self, older_than: float = IDLE_SECONDS) -> None:
        cutoff = time.monotonic() - older_than
        for key, connections in list(self._idle.items()):
            keep = [c for c in connections if c.idle_since >= cutoff and not c.reader.at_eof()]
            for connection in connections:
                if connection not in keep:
                    connection.close()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    async def close(self) -> None:
        self.close_idle(older_than=-1.0)
        if self._loopback is not None:
            await self._loopback.aclose()

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        connections = self._idle.get(key)
        cutoff = time.monotonic() - IDLE_SECONDS
        while connections:
            connection = connections.pop()
            if connection.idle_since >= cutoff and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _connect(self, target: Target) -> _Connection:
        tls = None
        if target.url.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context(cafile=certifi.where())
            tls = self._tls
        failure: OSError | None = None
        for address in target.addresses:  # each one checked by the policy; the first that answers
            try:
                reader, writer = await asyncio.open_connection(
                    address, target.port, ssl=tls, server_hostname=target.host if tls else None
                )
            except OSError as exc:
                failure = exc
                continue
            return _Connection(reader, writer)
        raise failure or OSError(f"{target.host} has no address")

    async def _exchange(self, connection: _Connection, key: tuple[str, str, int], request: bytes, *,
                        reused: bool) -> Answer:  # fmt: skip
        reading = _Reading()
        kept = False
        try:
            connection.writer.write(request)
            while not reading.complete and not (reading.headers_done and reading.overflow):
                try:
                    data = await connection.reader.read(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    if reading.headers_done:
                        break  # an answer whose body ends with the connection
                    if reused and not reading.parser.get_status_code():
                        raise _Stale
                    raise ConnectionError("the receiver closed the connection before answering")
                reading.parser.feed_data(data)
            kept = reading.complete and not reading.overflow and reading.keep_alive
            return Answer(reading.parser.get_status_code(), reading.body, reading.location)
        finally:
            if kept:
                self._keep(key, connection)
            else:
                connection.close()

    def _keep(self, key: tuple[str, str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= MAX_IDLE_PER_HOST:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)


def _head(target: Target) -> bytes:
    """The start of every request to this URL: request line, `Host`, `User-Agent`, content type
    and credentials. Its parts are the URL's, never a client's raw text: the path and query are
    percent-encoded, the host is an IP or an IDNA name (the policy refused URLs with whitespace
    or control characters)."""
    url = target.url
    path = quote(url.path or "/", safe=_URL_SAFE) + (f"?{quote(url.query, safe=_URL_SAFE)}" if url.query else "")
    host = f"[{target.host}]" if ":" in target.host else target.host.encode("idna").decode("ascii")
    if url.port is not None:
        host = f"{host}:{url.port}"
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {USER_AGENT}", "Content-Type: application/json"]
    if url.username is not None:
        credentials = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
        lines.append(f"Authorization: Basic {base64.b64encode(credentials).decode()}")
    return ("\r\n".join(lines) + "\r\n").encode()
