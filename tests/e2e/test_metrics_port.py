"""`aegra_runs_pending` on `--metrics-port` is fresh (docs/operations.md): that port is served by
the server's main process, which has no database; its workers recount the pending runs every few
seconds (domain/runs/pending_gauge.py). Nothing here scrapes the API port, whose scrapes count too."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.postgres import database_for, free_port
from tests.support.scrape import Scrape
from tests.support.server import granian_server

FRESH_WITHIN = 20.0  # the refresh period (5 s), with room for a loaded machine


async def _pending_on(port: int, expected: float) -> None:
    deadline = time.monotonic() + FRESH_WITHIN
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            if (value := Scrape(text).value("aegra_runs_pending")) == expected:
                return
            assert time.monotonic() < deadline, f"aegra_runs_pending stayed {value}, not {expected}"
            await asyncio.sleep(0.25)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_for(request, tmp_path)


async def test_runs_pending_on_the_metrics_port_follows_the_queue(database_url: str, tmp_path: Path) -> None:
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_url}
    port = free_port()
    with granian_server(tmp_path, env, metrics_port=port) as server:
        client = get_client(url=server.url)
        thread = await client.threads.create()
        first = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 60})
        # Two more on the same thread wait for the first.
        for _ in range(2):
            await client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.1}, multitask_strategy="enqueue")
        await _pending_on(port, 2)
        await client.runs.cancel(thread["thread_id"], first["run_id"])  # the two go, and quickly end
        await _pending_on(port, 0)
