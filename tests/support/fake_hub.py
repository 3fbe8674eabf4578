"""A model hub on 127.0.0.1 that serves one repository, for downloads that must not need the internet.

`HF_ENDPOINT=<hub.url>` points huggingface_hub (which fastembed downloads with) at it. It answers
the few calls a snapshot download makes: the repository's info, its file tree, and each file
(HEAD for the metadata, GET with ranges for the bytes). The largest file can be held half-sent
until `hub.release()`, to look at a download in progress. `seed_cache` writes a repository's files
into a fastembed cache directly, as a finished download leaves them.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.support.local_http import local_http_server

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeHub:
    repo_id: str
    files: dict[str, bytes]  # path in the repository -> content
    bytes_per_second: float | None = None  # None: as fast as possible
    hold: bool = False  # send half of the largest file, then wait for `release()`
    url: str = ""
    requests: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()

    def largest(self) -> str:
        return max(self.files, key=lambda path: len(self.files[path]))

    def tree(self) -> list[dict[str, object]]:
        return [
            {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
            for path, data in sorted(self.files.items())
        ]

    def info(self) -> dict[str, object]:
        return {
            "id": self.repo_id,
            "modelId": self.repo_id,
            "sha": COMMIT,
            "private": False,
            "siblings": [{"rfilename": path} for path in sorted(self.files)],
        }


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    api = re.compile(rf"^/api/models/{re.escape(hub.repo_id)}(?:/revision/[^/]+)?$")
    tree = re.compile(rf"^/api/models/{re.escape(hub.repo_id)}/tree/[^/]+(?:/.*)?$")
    resolve = re.compile(rf"^/{re.escape(hub.repo_id)}/resolve/[^/]+/(.+)$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append(f"{self.command} {path}")
            if api.match(path):
                return self._json(hub.info(), body)
            if tree.match(path):
                return self._json(hub.tree(), body)
            found = resolve.match(path)
            if found and found.group(1) in hub.files:
                return self._file(found.group(1), hub.files[found.group(1)], body)
            self._json({"error": f"not found: {path}"}, body, status=404)

        def _json(self, value: object, body: bool, status: int = 200) -> None:
            data = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 404:
                self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _file(self, name: str, data: bytes, body: bool) -> None:
            start = 0
            ranged = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if ranged:
                start = int(ranged.group(1))
            self.send_response(206 if ranged else 200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", COMMIT)
            if ranged:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return
            chunk = 64 * 1024
            held = hub.hold and name == hub.largest()
            for offset in range(start, len(data), chunk):
                if held and offset >= len(data) // 2:
                    held = False
                    self.wfile.flush()
                    hub.released.wait(timeout=300)
                self.wfile.write(data[offset : offset + chunk])
                if hub.bytes_per_second:
                    time.sleep(chunk / hub.bytes_per_second)

    return Handler


@contextmanager
def fake_hub(
    repo_id: str, files: dict[str, bytes], *, bytes_per_second: float | None = None, hold: bool = False
) -> Iterator[FakeHub]:
    hub = FakeHub(repo_id, files, bytes_per_second, hold)
    with local_http_server(_handler(hub)) as url:
        hub.url = url
        try:
            yield hub
        finally:
            hub.release()


def repo_files(folder: Path, renames: dict[str, str] | None = None) -> dict[str, bytes]:
    """The files of `folder` as a repository's, with some renamed (e.g. model.onnx -> model_optimized.onnx)."""
    renames = renames or {}
    return {renames.get(p.name, p.name): p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def seed_cache(cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Write `files` into the fastembed cache `cache` as a download of `repo_id` leaves them
    (huggingface_hub's layout: a snapshot folder per commit, and `refs/main` naming it)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (snapshot / path).write_bytes(data)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot
