"""`/metrics` (docs/operations.md): scraped with prometheus_client's parser after real runs and
store calls through the SDK, on a real server of each backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from langgraph_sdk.client import LangGraphClient
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.auth_files import PROBE_AUTH_FILE
from tests.support.postgres import free_port
from tests.support.projects import write_project
from tests.support.scrape import Scrape, scrape
from tests.support.server import RunningServer, granian_server

WAIT_ROUTE = "/threads/{thread_id}/runs/wait"


async def test_runs_store_http_and_database_figures(server: RunningServer, client: LangGraphClient) -> None:
    before = scrape(server.url)
    thread = await client.threads.create()
    for i in range(3):
        result = await client.runs.wait(thread["thread_id"], "agent", input={"messages": [("user", f"hi {i}")]})
        assert result["messages"][-1]["content"].startswith("You said")
    failing = await client.runs.wait(thread["thread_id"], "failing", input={}, raise_error=False)
    assert failing["__error__"]["error"] == "ValueError"
    slow_thread = await client.threads.create()
    slow = await client.runs.create(slow_thread["thread_id"], "slow", input={"seconds": 30})
    await asyncio.sleep(0.3)
    await client.runs.cancel(slow_thread["thread_id"], slow["run_id"], wait=True)
    await client.store.put_item(["metrics", "test"], "k", {"v": 1})
    found = await client.store.search_items(["metrics"], filter={"v": 1})
    assert len(found["items"]) == 1
    after = scrape(server.url)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("aegra_runs_created_total", graph="agent") == 3
    assert delta("aegra_runs_started_total", graph="agent") == 3
    assert delta("aegra_runs_finished_total", graph="agent", status="success") == 3
    assert delta("aegra_runs_finished_total", graph="failing", status="error") == 1
    assert delta("aegra_runs_finished_total", graph="slow", status="interrupted") == 1
    assert delta("aegra_run_cancels_total", action="interrupt") == 1
    assert delta("aegra_run_duration_seconds_count", graph="agent") == 3
    assert delta("aegra_run_queue_wait_seconds_count", graph="agent") == 3
    assert after.value("aegra_runs_running") == 0
    assert after.value("aegra_run_streams_open") == 0
    assert delta("aegra_http_requests_total", route=WAIT_ROUTE, method="POST", status="200") == 4
    assert delta("aegra_http_request_duration_seconds_count", route=WAIT_ROUTE, method="POST") == 4
    assert delta("aegra_store_puts_total") == 1
    assert delta("aegra_store_searches_total", kind="filter") == 1
    assert after.value("aegra_worker_processes") == 1
    assert after.labels_of("process_resident_memory_bytes", "pid"), "each process's collector, by pid"
    assert after.total("process_cpu_seconds_total") > 0
    backend = (await client.http.get("/info"))["host"]["database"]
    if backend == "sqlite":
        assert delta("aegra_sqlite_commits_total") > 0
        assert delta("aegra_sqlite_group_commit_size_count") == delta("aegra_sqlite_commits_total")
    else:
        assert "aegra_db_pool_connections_in_use" in after.text
        assert after.value("aegra_db_pool_waiting") == 0
    assert after.labels_of("aegra_db_statement_errors_total", "backend") == {
        "sqlite" if backend == "sqlite" else "postgresql"
    }


async def test_metrics_count_the_scrape_itself_and_unmatched_routes(server: RunningServer) -> None:
    before = scrape(server.url)
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/no/such/route")).status_code == 404
    after = scrape(server.url)
    other = {"route": "<other>", "method": "GET", "status": "404"}
    assert after.value("aegra_http_requests_total", **other) - before.value("aegra_http_requests_total", **other) == 1
    assert after.value("aegra_http_requests_total", route="/metrics", method="GET", status="200") >= 1


def test_disable_metrics_and_metrics_auth(tmp_path: Path) -> None:
    """`http.disable_metrics` removes the route; `http.metrics_auth` puts it behind the auth handler."""
    (tmp_path / "auth.py").write_text(PROBE_AUTH_FILE)
    graphs = {"agent": "./graph.py:graph"}
    off = write_project(tmp_path / "off", {"graphs": graphs, "http": {"disable_metrics": True}})
    guarded = write_project(
        tmp_path / "guarded", {"graphs": graphs, "auth": {"path": "../auth.py:auth"}, "http": {"metrics_auth": True}}
    )
    with granian_server(off.parent, {"AEGRA_CONFIG": str(off)}) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
    with granian_server(guarded.parent, {"AEGRA_CONFIG": str(guarded)}) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        assert scrape(server.url, Authorization="User ops").value("aegra_worker_processes") == 1


def _http_requests_counted(directory: Path) -> float:
    """The HTTP requests a server's processes counted, read from its multiprocess files."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "aegra_http_requests_total"
    )


def test_disable_metrics_stops_the_counting_unless_a_metrics_port_serves_it(tmp_path: Path) -> None:
    """With `/metrics` removed and no `--metrics-port`, nothing would ever read the counts: none is
    kept. With `--metrics-port`, the counts are served there, so they are kept."""
    off = write_project(tmp_path / "off", {"graphs": {"agent": "./graph.py:graph"}, "http": {"disable_metrics": True}})
    counted = tmp_path / "counted"
    counted.mkdir()
    env = {"AEGRA_CONFIG": str(off), "PROMETHEUS_MULTIPROC_DIR": str(counted)}
    with granian_server(off.parent, env) as server:
        for _ in range(3):
            assert httpx.get(f"{server.url}/ok").status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 404
        assert _http_requests_counted(counted) == 0
    port = free_port()
    with granian_server(off.parent, env, metrics_port=port) as server:
        for _ in range(3):
            assert httpx.get(f"{server.url}/ok").status_code == 200
        assert _http_requests_counted(counted) >= 3
        served = Scrape(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert served.value("aegra_http_requests_total", route="/ok", method="GET", status="200") >= 3
