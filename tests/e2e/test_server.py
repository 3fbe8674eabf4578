"""The real server under Granian, driven over HTTP (and through langgraph-sdk's client)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from aegra.db.migrate import head_revision
from tests.support.postgres import create_database, throwaway_cluster
from tests.support.projects import write_project
from tests.support.server import RunningServer, granian_server


def test_sqlite_server_serves_health_info_docs_from_one_file(tmp_path: Path) -> None:
    write_project(tmp_path)
    with granian_server(tmp_path, {"DATABASE_URL": "sqlite:///./data/app.db"}) as server:
        ok = httpx.get(f"{server.url}/ok")
        assert ok.json() == {"ok": True, "services": {"database": "skipped"}}
        checked = httpx.get(f"{server.url}/ok", params={"check_db": 1})
        assert checked.status_code == 200 and checked.json()["services"]["database"] == "healthy"
        info = httpx.get(f"{server.url}/info").json()
        assert info["version"] and info["langgraph_py_version"] and info["flags"]["assistants"] is True
        assert info["host"]["database"] == "sqlite"
        assert info["vector_core"]["simd"] == _simd_this_cpu_runs(), info["vector_core"]
        docs = httpx.get(f"{server.url}/docs")
        assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
        spec = httpx.get(f"{server.url}/openapi.json").json()
        assert spec["info"]["title"] == "Aegra" and "/ok" in spec["paths"]
        missing = httpx.get(f"{server.url}/no/such/route")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
        wrong = httpx.get(f"{server.url}/ok", params={"check_db": "maybe"})
        assert wrong.status_code == 422 and "check_db" in wrong.json()["detail"]
    files = {p.name for p in (tmp_path / "data").iterdir()} - {"app.db-wal", "app.db-shm"}
    assert files == {"app.db"}


def _simd_this_cpu_runs() -> list[str]:
    """What the vector kernels use here, read from the CPU's own flags: AVX2 if it has it, else the
    x86_64 baseline (SSE2) or aarch64's NEON."""
    import platform

    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(("flags", "Features")):
            flags |= set(line.split(":", 1)[1].split())
    if platform.machine() == "x86_64":
        return ["avx2"] if "avx2" in flags else ["sse2"]
    return ["neon"] if platform.machine() in ("aarch64", "arm64") else []


async def test_the_sdk_client_talks_to_the_server(tmp_path: Path) -> None:
    write_project(tmp_path)
    with granian_server(tmp_path) as server:
        client = get_client(url=server.url)
        info = await client.http.get("/info")
        assert info["flags"]["crons"] is True


def test_cors_exposes_pagination_and_location_headers(tmp_path: Path) -> None:
    write_project(tmp_path)
    with granian_server(tmp_path) as server:
        response = httpx.get(f"{server.url}/ok", headers={"Origin": "http://studio.example"})
        exposed = {h.strip() for h in response.headers["access-control-expose-headers"].lower().split(",")}
        assert {"x-pagination-total", "x-pagination-next", "content-location", "location"} <= exposed


@pytest.mark.postgres
def test_postgres_server_migrates_and_checks_the_database(tmp_path: Path, postgres_url: str) -> None:
    write_project(tmp_path)
    with granian_server(tmp_path, {"DATABASE_URL": postgres_url}) as server:
        checked = httpx.get(f"{server.url}/ok", params={"check_db": 1})
        assert checked.status_code == 200 and checked.json() == {"ok": True, "services": {"database": "healthy"}}
        assert httpx.get(f"{server.url}/info").json()["host"]["database"] == "postgres"
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
        assert conn.execute("SELECT to_regclass('public.checkpoints') IS NOT NULL").fetchone() == (True,)


@pytest.mark.postgres
def test_readiness_answers_503_while_postgres_is_away(tmp_path: Path) -> None:
    """`/ok?check_db=true` is readiness: 503 while PostgreSQL is down under the running server, 200
    again once it is back; plain `/ok` (liveness) stays 200 throughout."""
    write_project(tmp_path)
    with (
        throwaway_cluster() as cluster,
        granian_server(tmp_path, {"DATABASE_URL": create_database(cluster.url)}) as server,
    ):
        assert httpx.get(f"{server.url}/ok", params={"check_db": "true"}).status_code == 200
        cluster.stop()
        for value in ("1", "true"):
            answer = httpx.get(f"{server.url}/ok", params={"check_db": value}, timeout=30)
            assert answer.status_code == 503
            assert answer.json() == {"ok": False, "services": {"database": "unhealthy"}}
        assert httpx.get(f"{server.url}/ok").status_code == 200
        cluster.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/ok", params={"check_db": "true"}, timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after PostgreSQL came back"
            time.sleep(0.2)


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "aegra.cli.main", "serve", "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    # One line with the whole story: SQLite is one process; PostgreSQL takes several workers.
    [line] = result.stderr.strip().splitlines()
    assert "needs PostgreSQL" in line and "one process owns a SQLite file" in line and "DATABASE_URL" in line, line


def test_dev_reports_config_errors_in_one_line(tmp_path: Path) -> None:
    write_project(tmp_path, {"graphs": {"agent": "./nowhere.py:graph"}})
    result = subprocess.run(
        [sys.executable, "-m", "aegra.cli.main", "dev", "--no-reload"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "graphs.agent" in result.stderr and "Traceback" not in result.stderr


def test_dev_reports_a_broken_graph_with_file_and_error(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "graph.py").write_text("import no_such_module_here\n")
    result = subprocess.run(
        [sys.executable, "-m", "aegra.cli.main", "dev", "--no-reload"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # The server's worker reports it (the CLI no longer imports the graphs before starting it):
    # once, with the traceback of what failed and not of the task groups around it.
    assert result.returncode == 1
    assert "graph.py" in result.stderr and "no_such_module_here" in result.stderr
    assert result.stderr.count("could not start") == 1 and "ExceptionGroup" not in result.stderr


def test_server_serves_the_shared_test_graphs(tmp_path: Path) -> None:
    """The reusable graph set of tests/graphs loads in a real server process."""
    from tests.graphs import TEST_GRAPHS_CONFIG

    with granian_server(tmp_path, {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG)}) as server:
        assert httpx.get(f"{server.url}/ok", params={"check_db": 1}).status_code == 200
    assert (tmp_path / "aegra.db").exists(), "relative DATABASE_URL resolves from the working directory"


def _thread_cpus(pid: int) -> set[str]:
    """The CPUs each thread of a process may run on, as /proc writes them (e.g. "0" or "0-1")."""
    masks = set()
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            line = next(row for row in status.read_text().splitlines() if row.startswith("Cpus_allowed_list:"))
            masks.add(line.split(":", 1)[1].strip())
    return masks


def _worker_pid(server: RunningServer) -> int:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two CPUs")  # fmt: skip
@pytest.mark.parametrize("pinned", [True, False])
async def test_aegra_pin_cpu_keeps_every_worker_thread_on_one_core(tmp_path: Path, pinned: bool) -> None:
    write_project(tmp_path)
    env = {"AEGRA_PIN_CPU": "true" if pinned else "false"}
    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        # A run starts the threads that come later (the pool that runs the graph's sync node).
        result = await client.runs.wait(None, "agent", input={"messages": [{"role": "user", "content": "hi"}]})
        assert result["messages"][-1]["content"] == "hello"
        masks = _thread_cpus(_worker_pid(server))
    if pinned:
        assert len(masks) == 1
        assert int(masks.pop()) in os.sched_getaffinity(0)
    else:  # the default: the worker keeps the CPUs it was started with
        assert masks == _thread_cpus(os.getpid()) and len(os.sched_getaffinity(0)) > 1
