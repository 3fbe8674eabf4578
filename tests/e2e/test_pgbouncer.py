"""Behind PgBouncer in transaction mode (docs/scaling.md): `DATABASE_URL` at the pooler,
`DATABASE_DIRECT_URL` at PostgreSQL itself for LISTEN, migrations and setup locks, and
`DB_PREPARED_STATEMENTS=false`. Two workers serve the runs' whole life, their streams across
processes and the store through a pool of four server connections, which one client's
transactions share with every other's; nothing is left locked on them afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.pgbouncer import pgbouncer
from tests.support.postgres import create_database
from tests.support.projects import graphs_project
from tests.support.server import granian_server

pytestmark = pytest.mark.postgres

USER_HI = {"messages": [{"role": "user", "content": "hi"}]}
# The run events' retention sweep (an `exclusive` lock) comes every 2 s: the test outlasts two.
SWEEPS_SECONDS = 4.5


async def test_a_server_behind_pgbouncer_in_transaction_mode(tmp_path: Path, postgres_server: str) -> None:
    database = create_database(postgres_server)
    name = database.rsplit("/", 1)[1]
    with pgbouncer(postgres_server) as pooler:
        env = {"AEGRA_CONFIG": str(graphs_project(tmp_path)), "DATABASE_URL": f"{pooler}/{name}",
               "DATABASE_DIRECT_URL": database, "DB_PREPARED_STATEMENTS": "false"}  # fmt: skip
        with granian_server(tmp_path, env, workers=2) as server:
            client = get_client(url=server.url)
            started = asyncio.get_running_loop().time()
            threads = [await client.threads.create() for _ in range(4)]

            async def chat(thread_id: str) -> None:
                for _ in range(3):
                    state = await client.runs.wait(thread_id, "agent", input=USER_HI)
                    assert isinstance(state, dict) and state["messages"][-1]["type"] == "ai", state

            await asyncio.gather(*(chat(thread["thread_id"]) for thread in threads))
            history = await client.threads.get_history(threads[0]["thread_id"])
            assert len([message for message in history[0]["values"]["messages"] if message["type"] == "ai"]) == 3

            # Background runs, joined and streamed by whichever worker takes the request.
            thread_id = threads[1]["thread_id"]
            runs = [await client.runs.create(thread_id, "slow", input={"seconds": 0.2}, multitask_strategy="enqueue")
                    for _ in range(3)]  # fmt: skip
            events = [part.event async for part in client.runs.join_stream(thread_id, runs[0]["run_id"])]
            assert events and events[-1] != "error", events
            for run in runs:
                await client.runs.join(thread_id, run["run_id"])
                assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"

            cancelled = await client.runs.create(threads[2]["thread_id"], "slow", input={"seconds": 30})
            await client.runs.cancel(threads[2]["thread_id"], cancelled["run_id"], wait=True)
            assert (await client.runs.get(threads[2]["thread_id"], cancelled["run_id"]))["status"] == "interrupted"

            await client.store.put_item(["users", "u1"], "k", {"text": "hello"})
            assert (await client.store.get_item(["users", "u1"], "k"))["value"] == {"text": "hello"}
            assert [item["key"] for item in (await client.store.search_items(["users"]))["items"]] == ["k"]
            assert len(await client.threads.search(limit=10)) == 4

            await asyncio.sleep(max(0.0, SWEEPS_SECONDS - (asyncio.get_running_loop().time() - started)))
            log = server.log()
        assert "Traceback" not in log and "prepared statement" not in log, log[-3000:]
        # The pooler keeps its server connections: a lock left on one would still be held.
        with psycopg.connect(database) as conn:
            held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert held == (0,)
