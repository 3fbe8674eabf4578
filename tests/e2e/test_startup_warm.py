"""`aegra serve` answers `/ok` while its app still loads (aegra/server/warm_start.py), and requests
sent during that warm-up wait for the app and succeed; a failed warm-up answers 503 and stops.

The project's graph holds the warm-up for as long as the test wants: in the server's worker
(AEGRA_ROLE is set there, not in the CLI that validates the project first), its import waits for
a flag file, then either goes on or raises."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.test_cli import aegra_argv, clean_env
from tests.support.postgres import free_port
from tests.support.projects import TRIVIAL_GRAPH
from tests.support.server import stop_group

HELD_GRAPH = (
    """
import os, time
from pathlib import Path

if os.environ.get("AEGRA_ROLE"):  # the server's worker, not `aegra serve`'s own check of the project
    flag = Path(os.environ["AEGRA_TEST_WARM_FLAG"])
    Path(f"{flag}.importing").touch()  # the app's lifespan is importing the graphs
    while not flag.exists():
        time.sleep(0.02)
    if flag.read_text() == "fail":
        raise RuntimeError("the graph failed on purpose")
"""
    + TRIVIAL_GRAPH
)


def start_serve(folder: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "graph.py").write_text(HELD_GRAPH)
    (folder / "aegra.json").write_text(json.dumps({"graphs": {"agent": "./graph.py:graph"}}))
    flag = folder / "go"
    port = free_port()
    env = clean_env(DATABASE_URL=database_url, AEGRA_TEST_WARM_FLAG=str(flag))
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            aegra_argv("serve", "--host", "127.0.0.1", "--port", str(port)),
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return process, f"http://127.0.0.1:{port}", flag


def first_ok(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    """Until `/ok` answers 200. The graph is still held: only a warm start can answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no /ok while the app loads:\n{log.read_text()}")


def wait_for_file(path: Path, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name}:\n{log.read_text()}"
        time.sleep(0.05)


async def test_requests_sent_during_the_warm_up_wait_for_the_app_and_succeed(tmp_path: Path, database_url: str) -> None:
    process, url, flag = start_serve(tmp_path / "project", database_url)
    try:
        first_ok(process, url, tmp_path / "project" / "server.log")
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            hi = {"messages": [{"role": "user", "content": "hi"}]}
            sent = {
                "ready": http.get("/ok", params={"check_db": "1"}),
                "search": http.post("/assistants/search", json={"graph_id": "agent"}),
                "run": http.post("/runs/wait", json={"assistant_id": "agent", "input": hi}),
                "put": http.put("/store/items", json={"namespace": ["warm"], "key": "k", "value": {"v": 1}}),
                "thread": http.post("/threads", json={}),
            }
            tasks = {name: asyncio.ensure_future(request) for name, request in sent.items()}
            # Until the app's lifespan is importing the graphs (which the flag holds).
            await asyncio.to_thread(wait_for_file, Path(f"{flag}.importing"), tmp_path / "project" / "server.log")
            await asyncio.sleep(0.2)
            assert not any(task.done() for task in tasks.values()), "nothing is answered before the app is up"
            # The graphs' import (held) does not hold the loop: liveness is answered meanwhile.
            liveness = await http.get("/ok", timeout=5)
            assert liveness.json() == {"ok": True, "services": {"database": "skipped"}}
            flag.write_text("go")
            answers = {name: await task for name, task in tasks.items()}
            for name, answer in answers.items():
                assert answer.status_code < 300, (name, answer.status_code, answer.text)
            assert answers["ready"].json()["services"]["database"] == "healthy"
            assert [a["graph_id"] for a in answers["search"].json()] == ["agent"]
            assert answers["run"].json()["messages"][-1]["content"] == "hello"
            found = await http.post("/store/items/search", json={"namespace_prefix": ["warm"]})
            assert [item["key"] for item in found.json()["items"]] == ["k"]
    finally:
        stop_group(process)
    assert process.returncode == 0, (tmp_path / "project" / "server.log").read_text()


async def test_a_warm_up_that_fails_answers_its_error_and_stops_the_server(tmp_path: Path, database_url: str) -> None:
    process, url, flag = start_serve(tmp_path / "project", database_url)
    log = tmp_path / "project" / "server.log"
    try:
        first_ok(process, url, log)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            waiting = asyncio.ensure_future(http.post("/assistants/search", json={}))
            await asyncio.sleep(0.5)
            flag.write_text("fail")
            answer = await waiting
        assert answer.status_code == 503
        assert "the graph failed on purpose" in answer.json()["detail"]
        assert process.wait(timeout=30) == 1
    finally:
        stop_group(process)
    assert "the graph failed on purpose" in log.read_text()
