"""LangGraph's PostgreSQL saver over the server's pool (db/checkpointer.py): the calls of different
runs do not wait for each other. A checkpoint write held up by a row lock (another transaction
holds its row) leaves a read of another thread free to answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
from langgraph.checkpoint.base import empty_checkpoint

from aegra.config import database_from_env
from aegra.db.checkpointer import open_checkpointer


def config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


async def test_a_blocked_write_does_not_hold_up_another_threads_read(postgres_url: str) -> None:
    settings = database_from_env({"DATABASE_URL": postgres_url}, Path.cwd())
    async with open_checkpointer(settings) as saver:
        checkpoint = empty_checkpoint()
        await saver.aput(config("a"), checkpoint, {}, {})  # type: ignore[arg-type]
        async with await psycopg.AsyncConnection.connect(postgres_url) as blocker, blocker.transaction():
            await blocker.execute("SELECT 1 FROM checkpoints WHERE thread_id = 'a' FOR UPDATE")
            # The same checkpoint again: its upsert waits for the row.
            write = asyncio.create_task(saver.aput(config("a"), checkpoint, {}, {}))  # type: ignore[arg-type]
            await asyncio.sleep(0.3)
            assert not write.done(), "the write should wait for the row lock"
            read = await asyncio.wait_for(saver.aget_tuple(config("b")), 5)  # type: ignore[arg-type]
            assert read is None
        await asyncio.wait_for(write, 5)
        stored = await saver.aget_tuple(config("a"))  # type: ignore[arg-type]
        assert stored is not None and stored.checkpoint["id"] == checkpoint["id"]
