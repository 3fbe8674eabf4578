"""A tiny HTTP server on loopback that records the JSON bodies POSTed to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_http import local_http_server


@dataclass
class Receiver:
    url: str
    bodies: list[Any] = field(default_factory=list)
    # Status codes to answer, in order; 200 once they run out.
    statuses: list[int] = field(default_factory=list)


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(url="", statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.bodies.append(json.loads(body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    with local_http_server(Handler) as url:
        receiver.url = f"{url}/hook"
        yield receiver
