"""A small HTTP server on loopback that records the webhooks POSTed to it, as a receiver would.

Each request is kept whole (headers and raw body), so tests can verify its Standard Webhooks
signature with the `standardwebhooks` package, as a real receiver does. What it answers is
scripted: `answers` are given out in order (a status, or a `Reply`: headers such as a redirect's,
a body, or a body that never ends), then 200; `fail_first` answers 503 to the first attempts of
each webhook id; with `hold` set, it answers nothing until `release()` (a receiver slow to answer).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.support.local_http import local_http_server


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    endless: bool = False  # announce a body far longer than `body`, send `body`, then stall


Answer = int | Reply


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """The payload, if the signature verifies with `secret` (else WebhookVerificationError)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str
    port: int
    received: list[Received] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    fail_first: int = 0
    hold: bool = False
    _released: threading.Event = field(default_factory=threading.Event)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def at(self, host: str) -> str:
        """The receiver's URL through another name of loopback (e.g. `localhost`)."""
        return self.url.replace("127.0.0.1", host)

    @property
    def bodies(self) -> list[Any]:
        return [request.json for request in self.received]

    def release(self) -> None:
        """Answer the requests held so far, and every later one at once."""
        self._released.set()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until `count` requests arrived (AssertionError after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} webhook requests arrived in {timeout} s"
                self._arrived.wait(left)
        return list(self.received)

    def _record(self, request: Received) -> Reply:
        with self._arrived:
            self.received.append(request)
            answer = self.answers.pop(0) if self.answers else 200
            earlier = sum(1 for r in self.received if r.headers.get("webhook-id") == request.headers.get("webhook-id"))
            if earlier <= self.fail_first:
                answer = 503
            self._arrived.notify_all()
        return answer if isinstance(answer, Reply) else Reply(answer)


@contextmanager
def webhook_receiver(statuses: list[Answer] | None = None, *, hold: bool = False,
                     fail_first: int = 0) -> Iterator[Receiver]:  # fmt: skip
    receiver = Receiver(url="", port=0, answers=list(statuses or []), hold=hold, fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = receiver._record(Received(self.path, headers, body, time.monotonic()))
            if receiver.hold:
                receiver._released.wait(60)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body) * (1000 if reply.endless else 1)))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
            if reply.endless:
                receiver._released.wait(60)
                self.close_connection = True

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    with local_http_server(Handler) as url:
        receiver.url = f"{url}/hook"
        receiver.port = int(url.rsplit(":", 1)[1])
        try:
            yield receiver
        finally:
            receiver.release()  # held requests answer before the server shuts down
