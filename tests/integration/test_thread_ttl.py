"""The thread TTL sweeper on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from langgraph.graph import MessagesState, StateGraph

from aegra.config import database_from_env
from aegra.db.checkpointer import open_checkpointer
from aegra.db.engine import Database
from aegra.db.models import Run, Thread
from aegra.domain.threads.ttl_sweeper import ThreadTTLSweeper


def chat_graph():
    builder = StateGraph(MessagesState)
    builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
    builder.add_edge("__start__", "reply")
    return builder


async def test_expired_threads_are_deleted_or_pruned_unless_busy(database_url: str) -> None:
    settings = database_from_env({"DATABASE_URL": database_url}, Path.cwd())
    db = await Database.open(settings)
    now = datetime.now(UTC)
    ids = {name: uuid.uuid4() for name in ("gone", "trimmed", "busy", "fresh", "forever")}
    async with open_checkpointer(settings) as saver:
        graph = chat_graph().compile(checkpointer=saver)
        for thread_id in ids.values():
            for text in ("one", "two"):
                await graph.ainvoke({"messages": [("user", text)]}, {"configurable": {"thread_id": str(thread_id)}})
        past, future = now - timedelta(minutes=1), now + timedelta(hours=1)
        async with db.session() as session:
            session.add_all([
                Thread(thread_id=ids["gone"], ttl_minutes=1, ttl_strategy="delete", expires_at=past),
                Thread(thread_id=ids["trimmed"], ttl_minutes=1, ttl_strategy="keep_latest", expires_at=past),
                Thread(thread_id=ids["busy"], ttl_minutes=1, ttl_strategy="delete", expires_at=past),
                Thread(thread_id=ids["fresh"], ttl_minutes=60, ttl_strategy="delete", expires_at=future),
                Thread(thread_id=ids["forever"]),
            ])  # fmt: skip
            await session.flush()
            session.add(Run(run_id=uuid.uuid4(), thread_id=ids["busy"], assistant_id=uuid.uuid4(), status="running"))

        deleted: list[uuid.UUID] = []

        async def delete_threads(thread_ids: list[uuid.UUID]) -> None:
            deleted.extend(thread_ids)
            async with db.session() as session:
                for thread_id in thread_ids:
                    await session.delete(await session.get(Thread, thread_id))
            for thread_id in thread_ids:
                await saver.adelete_thread(str(thread_id))

        sweeper = ThreadTTLSweeper(db, saver, delete_threads)
        assert await sweeper.sweep_once(now) == 2
        assert deleted == [ids["gone"]]

        async def checkpoints(thread_id: uuid.UUID) -> int:
            return len([c async for c in saver.alist({"configurable": {"thread_id": str(thread_id)}})])

        assert await checkpoints(ids["gone"]) == 0
        assert await checkpoints(ids["trimmed"]) == 1, "keep_latest leaves the newest checkpoint"
        assert await checkpoints(ids["busy"]) > 1 and await checkpoints(ids["fresh"]) > 1
        async with db.read_session() as session:
            trimmed = await session.get(Thread, ids["trimmed"])
            assert trimmed is not None and trimmed.expires_at is None, "pruned once, not again and again"
            assert await session.get(Thread, ids["busy"]) is not None
        assert await sweeper.sweep_once(now) == 0
    await db.close()
