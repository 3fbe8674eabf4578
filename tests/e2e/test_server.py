"""The real server under Granian, driven over HTTP (and through langgraph-sdk's client)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from aegra.db.migrate import head_revision
from tests.support.postgres import create_database, throwaway_cluster
from tests.support.projects import write_project
from tests.support.server import granian_server


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
def test_ok_answers_500_when_postgres_goes_away(tmp_path: Path) -> None:
    write_project(tmp_path)
    with (
        throwaway_cluster() as cluster,
        granian_server(tmp_path, {"DATABASE_URL": create_database(cluster.url)}) as server,
    ):
        assert httpx.get(f"{server.url}/ok", params={"check_db": 1}).status_code == 200
        cluster.stop()
        answer = httpx.get(f"{server.url}/ok", params={"check_db": 1}, timeout=30)
        assert answer.status_code == 500
        assert answer.json() == {"ok": False, "services": {"database": "unhealthy"}}


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "aegra.cli.main", "serve", "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs PostgreSQL" in result.stderr and "one writer" in result.stderr


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
    assert result.returncode == 1
    assert "graph.py" in result.stderr and "no_such_module_here" in result.stderr
    assert "Traceback" not in result.stderr


def test_server_serves_the_shared_test_graphs(tmp_path: Path) -> None:
    """The reusable graph set of tests/graphs loads in a real server process."""
    from tests.graphs import TEST_GRAPHS_CONFIG

    with granian_server(tmp_path, {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG)}) as server:
        assert httpx.get(f"{server.url}/ok", params={"check_db": 1}).status_code == 200
    assert (tmp_path / "aegra.db").exists(), "relative DATABASE_URL resolves from the working directory"


def test_serve_refuses_several_workers_until_runs_can_be_shared(tmp_path: Path, postgres_url: str) -> None:
    write_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "aegra.cli.main", "serve", "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env={**os.environ, "DATABASE_URL": postgres_url},
    )  # fmt: skip
    assert result.returncode == 1
    assert "not supported yet" in result.stderr and "--workers 1" in result.stderr
