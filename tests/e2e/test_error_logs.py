"""Every error logged once, with its traceback, never as a cascade of task groups (docs/operations.md,
"Errors"), in both log formats, from a real Granian server: a stream that fails after its response
started (inside the task group that runs a streaming body), a task group that fails inside a
handler, an `@auth.on` handler that raises, a graph that raises inside a run, and a graph that
cannot be imported at startup. Which backend does not matter here: the run's failure is checked on
both in test_logs.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.graphs import TEST_GRAPHS_DIR
from tests.support.projects import graphs_project
from tests.support.server import RunningServer, free_port, granian_argv, granian_server

AUTH_FILE = """
from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization):
    return (authorization or "User someone").removeprefix("User ")


@auth.on.threads.search
async def broken(ctx, value):
    raise RuntimeError("auth handler bug")
"""

CUSTOM_APP = """
import asyncio

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route


async def fail(message):
    await asyncio.sleep(0)
    raise RuntimeError(message)


async def group(request):
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(asyncio.sleep(10))
        tasks.create_task(fail("task group bug"))


async def chunks():
    yield b"first chunk"
    await fail("stream bug")


async def stream(request):
    return StreamingResponse(chunks())


app = Starlette(routes=[Route("/custom/group", group), Route("/custom/stream", stream)])
"""

TRACEBACK = "Traceback (most recent call last)"
# The first line of a record: the console format's time, or Granian's own `[LEVEL]` prefix.
RECORD_START = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} |\[[A-Z]+\] )")


def records(log: str) -> list[str]:
    """The log's records, a console record with the traceback lines that follow it."""
    found: list[str] = []
    for line in log.splitlines():
        if not line.strip():
            continue
        if found and not line.startswith("{") and not RECORD_START.match(line):
            found[-1] += "\n" + line
        else:
            found.append(line)
    return found


def errors(log: str) -> list[str]:
    return [r for r in records(log) if _json_level(r) == "ERROR" or " ERROR " in r[:40] or r.startswith("[ERROR]")]


def _json_level(record: str) -> str | None:
    if not record.startswith("{"):
        return None
    try:
        return json.loads(record).get("level")
    except ValueError:
        return None


def readable(record: str) -> str:
    """A JSON record's message and traceback as text (a console record is text already)."""
    if not record.startswith("{"):
        return record
    fields = json.loads(record)
    return f"{fields['message']}\n{fields.get('exc_info', '')}"


def only_error(server: RunningServer, marker: str, cause: str) -> str:
    """The one error record mentioning `marker`; it carries the traceback of `cause`, once. Lines
    reach the file through a logging queue: wait for the first, then long enough for a second."""
    deadline = time.monotonic() + 15
    while not (found := [r for r in errors(server.log()) if marker in r]) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    found = [record for record in errors(server.log()) if marker in record]
    assert len(found) == 1, "\n---\n".join(errors(server.log()))
    [record] = found
    text = readable(record)
    assert text.count(TRACEBACK) == 1 and cause in text, text
    assert "ExceptionGroup" not in text and "Exception Group" not in text, text
    return record


@pytest.fixture(scope="module", params=["console", "json"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp(f"errors-{request.param}")
    (folder / "auth.py").write_text(AUTH_FILE)
    (folder / "custom.py").write_text(CUSTOM_APP)
    config = graphs_project(folder, auth={"path": "./auth.py:auth"}, http={"app": "./custom.py:app"})
    env = {"AEGRA_CONFIG": str(config), "LOG_FORMAT": request.param}
    with granian_server(folder, env) as running:
        yield running


def test_a_stream_failing_after_its_response_started(server: RunningServer) -> None:
    with pytest.raises(httpx.RemoteProtocolError):  # cut off: a truncated stream must not look complete
        httpx.get(f"{server.url}/custom/stream", headers={"X-Request-ID": "stream-1"})
    record = only_error(server, "stream-1", "RuntimeError: stream bug")
    assert "GET /custom/stream" in record
    assert "Application callable raised" not in server.log(), "Granian's copy of the same error"


def test_a_task_group_failing_in_a_handler(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/custom/group", headers={"X-Request-ID": "group-1"})
    assert response.status_code == 500
    only_error(server, "group-1", "RuntimeError: task group bug")


def test_a_handler_that_raises(server: RunningServer) -> None:
    response = httpx.post(f"{server.url}/threads/search", json={}, headers={"X-Request-ID": "handler-1"})
    assert response.status_code == 500 and response.json() == {"detail": "Internal server error"}
    only_error(server, "handler-1", "RuntimeError: auth handler bug")


async def test_a_graph_that_raises_in_a_run(server: RunningServer) -> None:
    client = get_client(url=server.url)
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "failing", input={})
    await client.runs.join(thread["thread_id"], run["run_id"])
    record = only_error(server, run["run_id"], "ValueError: deliberate failure")
    assert "failing.py" in record  # the graph's own frame


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_graph_that_cannot_be_imported_at_startup(tmp_path: Path, log_format: str) -> None:
    config = tmp_path / "aegra.json"
    config.write_text('{"graphs": {"bad": "%s:graph"}}' % (TEST_GRAPHS_DIR / "broken" / "raises_at_import.py"))
    env = {**os.environ, "AEGRA_CONFIG": str(config), "LOG_FORMAT": log_format}
    argv = granian_argv(host="127.0.0.1", port=free_port(), workers=1, metrics_port=None)
    # Granian ends when its only worker cannot start.
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=120, check=False)
    log = done.stdout.decode() + done.stderr.decode()
    assert done.returncode != 0, log
    found = [record for record in errors(log) if "missing API key" in record]
    assert len(found) == 1, "\n---\n".join(errors(log))
    text = readable(found[0])
    assert "could not start" in text and 'raise RuntimeError("missing API key")' in text, text
    assert "ExceptionGroup" not in text and "Exception Group" not in text, text
