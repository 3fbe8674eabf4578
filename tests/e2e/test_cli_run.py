"""`aegra dev`, `aegra minimal` and `aegra serve` as a newcomer runs them: the real console script in
a temp folder, a real Granian server, checked over HTTP with langgraph-sdk."""

from __future__ import annotations

import shutil
import socket
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client

from aegra.db.migrate import head_revision
from tests.e2e.test_cli import aegra, aegra_argv, clean_env, one_error_line
from tests.support.postgres import free_port
from tests.support.server import RunningServer, cli_server


def aegra_server(*args: str, cwd: Path, logs: Path) -> AbstractContextManager[RunningServer]:
    """Run `aegra <args> --no-reload --port <free>` until the block ends (the whole process group:
    `dev` execs the server, whose workers are its children); its log goes to `logs`, outside the
    project, so the folder holds only what the CLI writes."""
    return cli_server(aegra_argv(*args, "--no-reload"), cwd=cwd, logs=logs, env=clean_env())


async def test_init_sqlite_then_dev_serves_the_template_graph(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The SQLite guide's steps, as written: aegra init --sqlite; cp .env.example .env; aegra dev.
    project = tmp_path / "tea_agent"
    project.mkdir()
    assert aegra("init", "--sqlite", cwd=project).returncode == 0
    shutil.copyfile(project / ".env.example", project / ".env")
    with aegra_server("dev", cwd=project, logs=tmp_path_factory.mktemp("logs")) as server:
        client = get_client(url=server.url)
        [assistant] = await client.assistants.search(graph_id="chatbot")
        assert assistant["metadata"] == {"created_by": "system"}
        schemas = await client.assistants.get_schemas(assistant["assistant_id"])
        assert "messages" in schemas["input_schema"]["properties"]
        assert schemas["graph_id"] == "chatbot"
        result = await client.runs.wait(None, "chatbot", input={"messages": [{"role": "user", "content": "Hi"}]})
        assert result["messages"][-1]["content"].startswith("[local fallback model]")
        async with httpx.AsyncClient() as http:
            assert "<title>Threads · Aegra console</title>" in (await http.get(f"{server.url}/ui")).text
        log = server.log()
    assert f"API:      {server.url}" in log and f"{server.url}/docs" in log and "baseUrl=" in log
    assert f"Console:  {server.url}/ui" in log
    assert (project / "tea_agent.db").is_file(), "the server used DATABASE_URL from .env"


def test_minimal_creates_a_project_and_a_rerun_just_starts_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = tmp_path_factory.mktemp("logs")
    project = tmp_path / "demo"
    with aegra_server("minimal", "demo", cwd=tmp_path, logs=logs) as server:
        assert httpx.get(f"{server.url}/ok").json()["ok"] is True
        graphs = [a["graph_id"] for a in httpx.post(f"{server.url}/assistants/search", json={}).json()]
        assert graphs == ["chatbot"]
        # The seed's promise: a working chat end to end, with no API key and no network.
        client = get_sync_client(url=server.url)
        thread = client.threads.create()
        answer = client.runs.wait(
            thread["thread_id"], "chatbot", input={"messages": [{"role": "user", "content": "Hi"}]}
        )
        assert answer["messages"][-1]["content"] == "[local fallback model] You said: Hi"
        first_log = server.log()
    assert first_log.count("OPENAI_API_KEY is not set: answering with the local fallback model") == 1
    assert "Created the SQLite chatbot project 'demo'" in first_log
    assert (project / ".env").read_text() == (project / ".env.example").read_text()
    assert (project / "demo.db").is_file()
    readme = (project / "README.md").read_text()

    with aegra_server("minimal", cwd=project, logs=logs) as server:
        assert httpx.get(f"{server.url}/ok").status_code == 200
        second_log = server.log()
    assert f"Found aegra.json in {project}: starting it" in second_log and "Created" not in second_log
    assert (project / "README.md").read_text() == readme


@pytest.mark.parametrize("command", ["dev", "serve"])
def test_unreachable_postgres_fails_fast_with_the_password_hidden(tmp_path: Path, command: str) -> None:
    assert aegra("init", cwd=tmp_path).returncode == 0  # a PostgreSQL project
    port = free_port()  # nothing listens there
    env_text = (tmp_path / ".env.example").read_text()
    env_text = env_text.replace("POSTGRES_PASSWORD=postgres", "POSTGRES_PASSWORD=hunter2secret")
    (tmp_path / ".env").write_text(env_text + f"\nPOSTGRES_PORT={port}\n")
    line = one_error_line(aegra(command, cwd=tmp_path))
    assert f"cannot reach PostgreSQL at postgresql://postgres:***@localhost:{port}/" in line
    assert "hunter2secret" not in line


@pytest.mark.parametrize("command", ["dev", "serve"])
def test_an_occupied_port_is_one_clear_line(tmp_path: Path, command: str) -> None:
    assert aegra("init", "--sqlite", cwd=tmp_path).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_error_line(aegra(command, "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path))
    assert f"127.0.0.1:{port}" in line and "--port" in line


@pytest.mark.postgres
def test_dev_on_postgres_migrates_before_starting(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> None:
    assert aegra("init", cwd=tmp_path).returncode == 0
    (tmp_path / ".env").write_text(f"DATABASE_URL={postgres_url}\n")
    with aegra_server("dev", cwd=tmp_path, logs=tmp_path_factory.mktemp("logs")) as server:
        assert httpx.get(f"{server.url}/ok", params={"check_db": 1}).json()["services"]["database"] == "healthy"
        log = server.log()
    # Printed by the CLI before Granian starts: the migration ran in `aegra dev`, not only in the server.
    assert log.index(f"PostgreSQL schema: {head_revision()} (head)") < log.index("API:")
    assert not list(tmp_path.glob("*.db")), "a PostgreSQL project writes no SQLite file"


def test_minimal_in_a_folder_with_other_files_refuses_and_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("my own notes\n")
    line = one_error_line(aegra("minimal", "--no-reload", cwd=tmp_path))
    assert "README.md" in line and "aegra minimal NEW_FOLDER" in line
    assert (tmp_path / "README.md").read_text() == "my own notes\n" and not (tmp_path / "aegra.json").exists()
