"""The LISTEN connection (db/notifications.py) on a real PostgreSQL: it comes back after its
backend is terminated, and one that is dropped again and again right after each connect is
retried with the backoff, not in a tight loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from aegra.db.notifications import RUNS, Listener

# This test's database only: the cluster is shared with the other tests' servers.
LISTENING = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
)


async def test_a_lost_listen_connection_comes_back_and_hears_again(postgres_url: str) -> None:
    heard: list[str] = []
    listener = Listener(postgres_url)
    listener.on(RUNS, heard.append)
    await listener.start()
    admin = await asyncpg.connect(postgres_url)
    try:
        assert len(await admin.fetch(LISTENING)) == 1
        await _until(lambda: listener.connected.is_set() and "" in heard[1:])
        await admin.execute("SELECT pg_notify($1, 'run-1')", RUNS)
        await _until(lambda: "run-1" in heard)
    finally:
        await admin.close()
        await listener.stop()


async def test_a_connection_dropped_at_once_each_time_gets_the_backoff(postgres_url: str) -> None:
    listener = Listener(postgres_url)
    listener.on(RUNS, lambda _payload: None)
    await listener.start()
    admin = await asyncpg.connect(postgres_url)
    terminated = 0
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 2.0
        while loop.time() < end:  # every connection it makes is cut within 20 ms, for 2 s
            terminated += len(await admin.fetch(LISTENING))
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
        await listener.stop()
    # Retried after 0.5 s, then 1 s: at most three connections in 2 s (a tight loop made dozens).
    assert 1 <= terminated <= 3, terminated


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")
