"""`aegra dev` while someone edits the project: the real console script with its reloader on, a real
Granian server, files changed on disk, Ctrl-C sent to the process group as a terminal sends it."""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import aegra_argv, clean_env
from tests.support.postgres import free_port
from tests.support.projects import TRIVIAL_GRAPH
from tests.support.server import RunningServer, cli_server, wait_until_ready

TWO_GRAPHS = '{"graphs": {"good": "./good.py:graph", "edited": "./edited.py:graph"}}'


def two_graph_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aegra.json").write_text(TWO_GRAPHS)
    (folder / "good.py").write_text(TRIVIAL_GRAPH)
    (folder / "edited.py").write_text(TRIVIAL_GRAPH)
    return folder


def dev_server(
    cwd: Path, logs: Path, *args: str, env: dict[str, str] | None = None
) -> AbstractContextManager[RunningServer]:
    """`aegra dev --port <free>` with its reloader, in its own process group (like a terminal's job);
    the log goes to `logs`: a log inside the project must not be what triggers a reload."""
    return cli_server(aegra_argv("dev", *args), cwd=cwd, logs=logs, env=env or clean_env())


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass  # between two workers
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def run_wait(server: RunningServer, graph_id: str) -> httpx.Response:
    body = {"assistant_id": graph_id, "input": {"messages": [{"role": "user", "content": "hi"}]}}
    return httpx.post(f"{server.url}/runs/wait", json=body, timeout=30)


def ctrl_c(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGINT to the whole process group, as a terminal's Ctrl-C; the exit code."""
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(timeout=timeout)


def test_a_syntax_error_keeps_the_other_graphs_served_and_a_fix_recovers(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = two_graph_project(tmp_path / "project")
    with dev_server(project, tmp_path_factory.mktemp("logs")) as server:
        assert run_wait(server, "edited").status_code == 200

        (project / "edited.py").write_text(TRIVIAL_GRAPH + "\ndef broken(:\n")
        wait_for("the edited graph to answer its error", lambda: run_wait(server, "edited").status_code == 503)
        answer = run_wait(server, "edited").json()["detail"]
        assert "Graph 'edited'" in answer and "SyntaxError" in answer and "edited.py" in answer
        good = run_wait(server, "good")
        assert good.status_code == 200 and good.json()["messages"][-1]["content"] == "hello"
        assert httpx.get(f"{server.url}/ok").status_code == 200
        assert server.process.poll() is None

        (project / "edited.py").write_text(TRIVIAL_GRAPH.replace('"hello"', '"fixed"'))
        wait_for("the fix to be served", lambda: run_wait(server, "edited").status_code == 200)
        assert run_wait(server, "edited").json()["messages"][-1]["content"] == "fixed"
        log = server.log()
    errors = [line for line in log.splitlines() if "SyntaxError" in line]
    assert errors and all(line.count("Graph 'edited'") == 1 for line in errors), log
    assert "Traceback" not in log and "Unexpected exit" not in log and "ExceptionGroup" not in log, log


def test_a_broken_config_answers_its_error_until_the_next_save(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = two_graph_project(tmp_path / "project")
    with dev_server(project, tmp_path_factory.mktemp("logs")) as server:
        (project / "aegra.json").write_text(TWO_GRAPHS[:-3])  # saved half-edited: malformed JSON
        wait_for("the config error", lambda: httpx.get(f"{server.url}/ok").status_code == 503)
        assert "malformed JSON" in httpx.get(f"{server.url}/assistants/search").json()["detail"]
        (project / "aegra.json").write_text(TWO_GRAPHS)
        wait_for("the fixed config", lambda: run_wait(server, "good").status_code == 200)
        assert server.process.poll() is None


def test_files_other_than_sources_config_and_env_do_not_reload(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = two_graph_project(tmp_path / "project")
    with dev_server(project, tmp_path_factory.mktemp("logs")) as server:
        # What `aegra db export backup.jsonl.gz` leaves in the project (written here directly, so that
        # this test is about the reloader, not the exporter), and other files that are not code.
        with gzip.open(project / "backup.jsonl.gz", "wt") as archive:
            archive.write('{"kind": "header"}\n')
        (project / "notes.txt").write_text("not code\n")
        (project / "data").mkdir()
        (project / "data" / "rows.csv").write_text("a,b\n")
        time.sleep(2)  # several times the reloader's debounce (watchfiles: 1.6 s at most)
        assert "Changes detected" not in server.log()

        (project / ".env").write_text("LOG_LEVEL=INFO\n")
        wait_for("the .env change to reload", lambda: "Changes detected" in server.log())
        assert ".env" in server.log() and "backup.jsonl.gz" not in server.log()
        assert (project / "backup.jsonl.gz").is_file()


def worker_pids(server: RunningServer) -> list[int]:
    """The workers Granian reported spawning, oldest first."""
    return [int(pid) for pid in re.findall(r"Spawning worker-1 with PID: (\d+)", server.log())]


def test_ctrl_c_reaches_every_process_but_only_the_main_one_acts_on_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = two_graph_project(tmp_path / "project")
    with dev_server(project, tmp_path_factory.mktemp("logs")) as server:
        # The worker gets the terminal's SIGINT too; whether it ends before the main process stops
        # it is a race, which Granian reports as an "Unexpected exit". It must leave it to the main one.
        os.kill(worker_pids(server)[-1], signal.SIGINT)
        time.sleep(2)
        assert run_wait(server, "good").status_code == 200, server.log()
        code = ctrl_c(server.process)
        log = server.log()
    assert code == 0, log
    assert "ERROR" not in log and "Unexpected exit" not in log and "Traceback" not in log, log
    assert "Granian shutdown completed" in log


def test_ctrl_c_during_a_reload_stops_the_server(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    project = two_graph_project(tmp_path / "project")
    with dev_server(project, tmp_path_factory.mktemp("logs")) as server:
        first = worker_pids(server)
        (project / "good.py").write_text(TRIVIAL_GRAPH + "\n# edited\n")
        wait_for("the new worker", lambda: len(worker_pids(server)) > len(first), timeout=60)
        # The new worker is still importing the app: the main process's SIGTERM must stop it (a
        # worker forked with the main process's handlers let it pass, and the server never ended).
        code = ctrl_c(server.process)
        log = server.log()
    assert code == 0, log
    assert "ERROR" not in log and "Unexpected exit" not in log, log


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    project = two_graph_project(tmp_path / "project")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            aegra_argv("serve", "--host", "127.0.0.1", "--port", str(port)),
            cwd=project, env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = RunningServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        wait_until_ready(server, timeout=120)
        os.kill(worker_pids(server)[-1], signal.SIGINT)  # as in the test above: the worker leaves it be
        time.sleep(2)
        assert run_wait(server, "good").status_code == 200
        assert ctrl_c(process) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    log_text = server.log()
    assert "ERROR" not in log_text and "Unexpected exit" not in log_text, log_text


def test_dev_runs_in_a_folder_that_is_a_python_package(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = two_graph_project(tmp_path / "pkg")
    (tmp_path / "__init__.py").write_text("")
    (project / "__init__.py").write_text("")
    with dev_server(project, tmp_path_factory.mktemp("logs"), "--no-reload") as server:
        assert run_wait(server, "good").status_code == 200
