"""`/metrics` over several processes (PostgreSQL): two Granian workers add up, whichever one
answers; no counter goes backwards when the workers are replaced (SIGHUP: Granian respawns them,
as `aegra dev` does on a reload); `--metrics-port` serves
the same figures from the main process; `aegra worker` answers scrapes on its port."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.test_multiprocess import host_env, start_host, worker_pids
from tests.support.postgres import create_database, free_port
from tests.support.scrape import Scrape, scrape
from tests.support.server import granian_server

pytestmark = pytest.mark.postgres

RUNS = 8


async def test_two_workers_add_up_and_no_counter_goes_backwards(postgres_server: str, tmp_path: Path) -> None:
    env = host_env(create_database(postgres_server), tmp_path / "steps.log")
    metrics_port = free_port()
    with granian_server(tmp_path, env, workers=2, metrics_port=metrics_port) as server:
        await _until_workers_counted(server.url, 2)  # one answering /ok says nothing of the other
        client = get_client(url=server.url)
        threads = [await client.threads.create() for _ in range(RUNS)]
        await asyncio.gather(*(client.runs.wait(t["thread_id"], "agent", input={"messages": []}) for t in threads))
        workers = worker_pids(server)
        assert len(workers) == 2
        scrapes = [scrape(server.url) for _ in range(6)]  # answered by either worker
        for each in scrapes:
            assert each.value("aegra_runs_created_total", graph="agent") == RUNS
            assert each.value("aegra_runs_finished_total", graph="agent", status="success") == RUNS
            assert each.value("aegra_worker_processes") == 2
            assert {int(p) for p in each.labels_of("process_cpu_seconds_total", "pid")} >= workers
        async with httpx.AsyncClient() as http:
            separate = Scrape((await http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30)).text)
        assert separate.value("aegra_runs_created_total", graph="agent") == RUNS
        assert separate.value("aegra_worker_processes") == 2
        requests_before = scrapes[-1].total("aegra_http_requests_total")

        os.kill(server.process.pid, signal.SIGHUP)  # Granian replaces its workers
        deadline = time.monotonic() + 60
        while len(worker_pids(server)) != 2 or worker_pids(server) & workers:
            assert time.monotonic() < deadline, "the workers were not replaced"
            await asyncio.sleep(0.2)
        await _until_ready(server.url)
        deadline = time.monotonic() + 60
        while True:  # until both new workers have started (each counts itself once up)
            after = scrape(server.url)
            assert after.value("aegra_runs_created_total", graph="agent") == RUNS, "the old workers' counts stay"
            assert after.total("aegra_http_requests_total") >= requests_before
            assert after.value("aegra_worker_processes") <= 2, "the old workers' gauges are dropped"
            if after.value("aegra_worker_processes") == 2:
                break
            assert time.monotonic() < deadline, "the new workers never counted themselves"
            await asyncio.sleep(0.2)


async def _until_workers_counted(url: str, workers: int) -> None:
    """Until every worker has finished its startup (each counts itself once up): Granian hands
    requests to whichever worker accepts first, so a slow starter can still be loading."""
    deadline = time.monotonic() + 60
    while scrape(url).value("aegra_worker_processes") != workers:
        assert time.monotonic() < deadline, f"{workers} workers never counted themselves"
        await asyncio.sleep(0.2)


async def _until_ready(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(300):
            try:
                if (await http.get("/ok")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)


async def test_aegra_worker_answers_scrapes_on_its_port(postgres_server: str, tmp_path: Path) -> None:
    env = host_env(create_database(postgres_server), tmp_path / "steps.log")
    with ExitStack() as stack:
        api = start_host(stack, tmp_path / "api", {**env, "AEGRA_ROLE": "api"}, workers=1)
        worker = start_host(stack, tmp_path / "worker", {**env, "AEGRA_ROLE": "worker"}, workers=1)
        client = get_client(url=api.url)
        thread = await client.threads.create()
        await client.runs.wait(thread["thread_id"], "steps", input={"steps": 1, "seconds": 0.01})
        executed = scrape(worker.url)
        assert executed.value("aegra_runs_finished_total", graph="steps", status="success") == 1
        assert executed.value("aegra_runs_created_total", graph="steps") == 0  # created by the API host
        assert scrape(api.url).value("aegra_runs_created_total", graph="steps") == 1
