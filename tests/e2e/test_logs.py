"""Logs (docs/operations.md): with LOG_FORMAT=json every line of a real server's output is one JSON
object, the access line of a request that created a run carries the run's ids and its user (the
auth handler's identity), and a line logged inside a run carries them too; by default, readable
lines with one access line per request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.test_cli import aegra_argv, clean_env
from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.postgres import database_for
from tests.support.projects import graphs_project
from tests.support.server import RunningServer, cli_server, granian_server

# `Authorization: User <name>` is user <name>.
AUTH_FILE = """
from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization):
    if not (authorization or "").startswith("User "):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Who are you?")
    return authorization.removeprefix("User ")
"""
USER = {"Authorization": "User carol"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def json_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp(f"logs-{request.param}")
    (folder / "auth.py").write_text(AUTH_FILE)
    config = graphs_project(folder, auth={"path": "./auth.py:auth"})
    env = {"AEGRA_CONFIG": str(config), "DATABASE_URL": database_for(request, folder), "LOG_FORMAT": "json"}
    with granian_server(folder, env) as running:
        yield running


def _lines(server: RunningServer) -> list[dict]:
    text = server.log()
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON: {line!r}") from None
    return parsed


async def test_json_lines_carry_the_request_and_run_ids(json_server: RunningServer) -> None:
    client = get_client(url=json_server.url, headers=USER)
    thread = await client.threads.create()
    failed = await client.runs.create(thread["thread_id"], "failing", input={}, headers={"X-Request-ID": "req-42"})
    await client.runs.join(thread["thread_id"], failed["run_id"])
    lines = _lines(json_server)
    [access] = [line for line in lines if line.get("logger") == "aegra.access" and line.get("request_id") == "req-42"]
    assert access["method"] == "POST" and access["status"] == 200 and access["route"] == "/threads/{thread_id}/runs"
    assert access["path"] == f"/threads/{thread['thread_id']}/runs" and access["size"] > 0
    assert access["duration_ms"] > 0 and access["level"] == "INFO" and access["time"]
    ids = {"run_id": failed["run_id"], "thread_id": thread["thread_id"], "assistant_id": failed["assistant_id"],
           "user": "carol"}  # fmt: skip
    assert {key: access.get(key) for key in ids} == ids and access["graph_id"] == "failing"
    # Logged by the executor inside the run's task: the run's ids, and the creating request's.
    [in_run] = [line for line in lines if "failed: ValueError" in line["message"]]
    assert {key: in_run.get(key) for key in ids} == ids and in_run["graph_id"] == "failing"
    # Logged once, with the graph's traceback (tests/e2e/test_error_logs.py checks the formats).
    assert in_run["level"] == "ERROR" and "ValueError: deliberate failure" in in_run["exc_info"]
    assert any(line.get("logger") == "_granian" for line in lines), "Granian's own lines are JSON too"


async def test_a_run_started_later_logs_the_user_who_created_it(json_server: RunningServer) -> None:
    """A delayed run starts from the executor's own loop, outside the creating request: its user
    comes with the run (as when another process runs it)."""
    client = get_client(url=json_server.url, headers=USER)
    thread = await client.threads.create()
    later = await client.runs.create(thread["thread_id"], "failing", input={}, after_seconds=0.5,
                                     headers={"X-Request-ID": "req-later"})  # fmt: skip
    await client.runs.join(thread["thread_id"], later["run_id"])
    [in_run] = [line for line in _lines(json_server) if "failed: ValueError" in line["message"]
                and line.get("run_id") == later["run_id"]]  # fmt: skip
    assert in_run.get("request_id") != "req-later", "started outside the creating request"
    assert in_run["user"] == "carol" and in_run["thread_id"] == thread["thread_id"]


def test_console_lines_by_default_one_access_line_per_request(tmp_path: Path) -> None:
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG)}
    with granian_server(tmp_path, env) as server:
        for _ in range(3):
            assert httpx.get(f"{server.url}/info", headers={"X-Request-ID": "console-1"}).status_code == 200
        log = server.log()
    access = [line for line in log.splitlines() if "aegra.access" in line and "request_id=console-1" in line]
    assert len(access) == 3, log
    assert "GET /info 200" in access[0]
    assert not log.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("command", "env_file", "access_lines"),
    [
        (["serve", "--host", "127.0.0.1"], "", 0),  # production: off unless asked for (as Granian's)
        (["serve", "--host", "127.0.0.1"], "ACCESS_LOG=true\n", 2),  # asked for in .env
        (["dev", "--no-reload"], "", 2),  # `aegra dev` shows it
        (["dev", "--no-reload"], "ACCESS_LOG=false\n", 0),
    ],
)
def test_the_access_line_by_command_and_setting(tmp_path: Path, command: list[str], env_file: str,
                                                access_lines: int) -> None:  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"DATABASE_URL=sqlite:///{project}/aegra.db\n{env_file}")
    env = clean_env(AEGRA_CONFIG=str(TEST_GRAPHS_CONFIG))
    with cli_server(aegra_argv(*command), cwd=project, logs=tmp_path, env=env) as server:
        for _ in range(2):
            assert httpx.get(f"{server.url}/info", headers={"X-Request-ID": "by-command"}).status_code == 200
    log = server.log()  # once it stopped: the logging thread writes lines a moment after the answer
    access = [line for line in log.splitlines() if "aegra.access" in line and "request_id=by-command" in line]
    assert len(access) == access_lines, log
