"""Behaviour of runs that needs its own server settings: heartbeats, the run timeout,
`on_disconnect=cancel`, and the bound on runs executing at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.hangups import hang_up, settled_status
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server


def _server_with(folder: Path, database_url: str, **settings: str) -> Iterator[RunningServer]:
    """A server on the test graphs, with these environment settings."""
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_url, **settings}
    with granian_server(folder, env) as server:
        yield server


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("tight")
    sqlite = f"sqlite:///{folder / 'aegra.db'}"
    yield from _server_with(folder, sqlite, KEEPALIVE_INTERVAL_SECS="0.2", BG_JOB_TIMEOUT_SECS="1.5")


async def test_silent_streams_get_heartbeats(tight_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=tight_server.url, timeout=30) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        response = await http.post(
            f"/threads/{thread}/runs/stream",
            json={"assistant_id": "slow", "input": {"seconds": 0.8}, "stream_mode": ["updates"]},
        )
    assert response.content.count(b": heartbeat\r\n\r\n") >= 2


async def test_wait_sends_keepalive_newlines_before_the_body(tight_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=tight_server.url, timeout=30) as http:
        response = await http.post("/runs/wait", json={"assistant_id": "slow", "input": {"seconds": 0.8}})
    assert response.content.startswith(b"\n\n")
    assert response.json() == {"seconds": 0.8, "steps_done": 16}


async def test_runs_past_the_timeout_end_as_timeout(tight_server: RunningServer) -> None:
    client = get_client(url=tight_server.url)
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 30})
    result = await client.runs.join(thread["thread_id"], run["run_id"])
    assert result["__error__"]["error"] == "TimeoutError"
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "timeout"
    assert (await client.threads.get(thread["thread_id"]))["status"] == "error"


async def test_disconnect_cancels_only_when_asked(tight_server: RunningServer) -> None:
    client = get_client(url=tight_server.url)
    statuses = {}
    for on_disconnect in ("cancel", "continue"):
        thread = await client.threads.create()
        async with httpx.AsyncClient(base_url=tight_server.url, timeout=30) as http:
            body = {"assistant_id": "slow", "input": {"seconds": 1.0}, "on_disconnect": on_disconnect}
            async with http.stream("POST", f"/threads/{thread['thread_id']}/runs/stream", json=body) as response:
                run_path = response.headers["content-location"]
                async for _ in response.aiter_raw():
                    break  # hang up after the first bytes
        run_id = run_path.rsplit("/", 1)[1]
        for _ in range(100):
            run = await client.runs.get(thread["thread_id"], run_id)
            if run["status"] not in ("pending", "running"):
                break
            await asyncio.sleep(0.05)
        statuses[on_disconnect] = run["status"]
    assert statuses == {"cancel": "interrupted", "continue": "success"}


async def test_wait_cancels_on_disconnect_mid_response_only_when_asked(tight_server: RunningServer) -> None:
    """Past the first keep-alive interval the answer is chunked: hanging up after its first bytes."""
    client = get_client(url=tight_server.url)
    statuses = {}
    for on_disconnect in ("cancel", "continue"):
        thread = (await client.threads.create())["thread_id"]
        body = {"assistant_id": "slow", "input": {"seconds": 1.0}, "on_disconnect": on_disconnect}
        async with httpx.AsyncClient(base_url=tight_server.url, timeout=30) as http:
            await hang_up(http, "POST", f"/threads/{thread}/runs/wait", json=body)
        (run,) = await client.runs.list(thread)
        statuses[on_disconnect] = await settled_status(client, thread, run["run_id"])
    assert statuses == {"cancel": "interrupted", "continue": "success"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_slot_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    # Both backends: the claim inside the settle transaction is SQL of its own on each.
    folder = tmp_path_factory.mktemp(f"two-slots-{request.param}")
    yield from _server_with(folder, database_for(request, folder), N_JOBS_PER_WORKER="2")


async def test_runs_beyond_the_slots_wait_their_turn(two_slot_server: RunningServer) -> None:
    """N_JOBS_PER_WORKER bounds the runs executing at once; the others stay `pending` and start as
    slots free up (a finishing run hands its slot to the next one in the same transaction). The
    graph itself counts the runs executing together: statuses read one run at a time are no
    snapshot (a run seen running, then its successor, would count twice)."""
    client = get_client(url=two_slot_server.url)
    threads = [await client.threads.create() for _ in range(5)]
    runs = [await client.runs.create(t["thread_id"], "occupancy", input={"seconds": 0.3}) for t in threads]
    statuses = [(await client.runs.get(r["thread_id"], r["run_id"]))["status"] for r in runs]
    assert "pending" in statuses  # five runs were made well within the first ones' 0.3 s
    results = [await client.runs.join(r["thread_id"], r["run_id"]) for r in runs]
    assert [(await client.runs.get(r["thread_id"], r["run_id"]))["status"] for r in runs] == ["success"] * 5
    assert max(result["most_at_once"] for result in results) == 2
