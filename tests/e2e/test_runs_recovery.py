"""Crash safety: after a kill -9 and a restart, no run is left `running`, no thread `busy` without
a run, and pending runs start. On SQLite the run that was cut off ends `error`; on PostgreSQL
(where another process may be alive) it is taken over once its lease runs out and resumed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.server import granian_server


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_runs_survive_a_crash(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": url, "RUN_LEASE_SECONDS": "2"}
    seconds = 60 if backend == "sqlite" else 3
    thread, running, queued = await _crash_while_running(tmp_path, env, seconds, queue_one=True)

    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        if backend == "sqlite":
            crashed = await client.runs.get(thread["thread_id"], running["run_id"])
            assert crashed["status"] == "error", "a run cut off by the crash ends as error, not running forever"
        else:
            await client.runs.join(thread["thread_id"], running["run_id"])
            resumed = await client.runs.get(thread["thread_id"], running["run_id"])
            assert resumed["status"] == "success", "a run cut off by the crash is taken over after its lease"
        await client.runs.join(thread["thread_id"], queued["run_id"])
        assert (await client.runs.get(thread["thread_id"], queued["run_id"]))["status"] == "success"
        assert (await client.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_a_thread_is_not_left_busy_by_a_crash(tmp_path: Path) -> None:
    """A run cut off with nothing queued behind it: after the restart its thread is not `busy`."""
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": f"sqlite:///{tmp_path / 'crash.db'}"}
    thread, running, _ = await _crash_while_running(tmp_path, env, 60, queue_one=False)
    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        assert (await client.runs.get(thread["thread_id"], running["run_id"]))["status"] == "error"
        assert (await client.threads.get(thread["thread_id"]))["status"] == "error"
        # And it takes new runs.
        assert (await client.runs.wait(thread["thread_id"], "slow", input={"seconds": 0.05}))["steps_done"] == 1


async def _crash_while_running(tmp_path: Path, env: dict[str, str], seconds: float, *,
                               queue_one: bool) -> tuple[dict, dict, dict | None]:  # fmt: skip
    """A server kill -9'ed while a `slow` run of `seconds` runs (and, `queue_one`, another waits
    behind it on its thread): the thread, the running run, the queued one."""
    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        thread = await client.threads.create()
        running = await client.runs.create(thread["thread_id"], "slow", input={"seconds": seconds})
        queued = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.05}) if queue_one else None
        for _ in range(100):
            if (await client.runs.get(thread["thread_id"], running["run_id"]))["status"] == "running":
                break
            await asyncio.sleep(0.05)
        server.kill()
    return dict(thread), dict(running), dict(queued) if queued else None
