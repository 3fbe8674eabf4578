"""The database layer on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from langgraph.graph import MessagesState, StateGraph
from sqlalchemy import func, select, text

from aegra.config import DatabaseSettings, database_from_env
from aegra.db.checkpointer import open_checkpointer
from aegra.db.engine import Database
from aegra.db.migrate import current_revision, head_revision, upgrade_to_head
from aegra.db.models import Assistant, AssistantVersion, Base, Run, Thread
from aegra.errors import Unavailable


def settings_for(url: str) -> DatabaseSettings:
    return database_from_env({"DATABASE_URL": url}, Path.cwd())


def tiny_graph():
    builder = StateGraph(MessagesState)
    builder.add_node("reply", lambda state: {"messages": [("ai", f"echo {len(state['messages'])}")]})
    builder.add_edge("__start__", "reply")
    return builder


async def test_models_round_trip_with_json_and_cascades(database_url: str) -> None:
    db = await Database.open(settings_for(database_url))
    try:
        assistant_id, thread_id, run_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with db.session() as session:
            session.add(Assistant(assistant_id=assistant_id, graph_id="agent", name="a", metadata_={"owner": "ann"}))
            session.add(AssistantVersion(assistant_id=assistant_id, version=1, graph_id="agent", name="a"))
            session.add(Thread(thread_id=thread_id, metadata_={"nested": {"k": [1, 2]}}, values={"messages": []}))
            await session.flush()
            session.add(
                Run(run_id=run_id, thread_id=thread_id, assistant_id=assistant_id, kwargs={"input": {"x": "é"}})
            )
        async with db.read_session() as session:
            thread = await session.get(Thread, thread_id)
            assert thread.metadata_ == {"nested": {"k": [1, 2]}}
            assert thread.status == "idle" and thread.interrupts == {}
            assert thread.created_at.tzinfo is not None
            run = await session.get(Run, run_id)
            assert run.kwargs == {"input": {"x": "é"}} and run.status == "pending" and run.attempt == 0
            assistant = await session.get(Assistant, assistant_id)
            assert assistant.version == 1 and assistant.config == {} and assistant.metadata_ == {"owner": "ann"}
        async with db.session() as session:
            await session.delete(await session.get(Thread, thread_id))
        async with db.read_session() as session:
            runs = await session.scalar(select(func.count()).select_from(Run))
            assert runs == 0, "deleting a thread deletes its runs"
    finally:
        await db.close()


async def test_sqlite_keeps_everything_in_one_file(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path}/nested/folder/app.db")
    db = await Database.open(settings)
    async with open_checkpointer(settings) as saver:
        graph = tiny_graph().compile(checkpointer=saver)
        await graph.ainvoke({"messages": [("user", "hi")]}, {"configurable": {"thread_id": "t1"}})
    await db.close()
    assert sorted(
        p.name for p in (tmp_path / "nested" / "folder").iterdir() if not p.name.endswith(("-wal", "-shm"))
    ) == ["app.db"]
    with sqlite3.connect(tmp_path / "nested" / "folder" / "app.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"assistants", "assistant_versions", "threads", "runs", "crons", "checkpoints", "writes"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id='t1'").fetchone()[0] > 0


async def test_an_older_sqlite_file_loses_retired_indexes_and_gains_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = await Database.open(settings_for(f"sqlite:///{path}"))
    await db.close()
    with sqlite3.connect(path) as conn:  # as a file made before the in-flight partial indexes
        conn.execute("DROP INDEX ix_runs_in_flight_thread_id")
        conn.execute("CREATE INDEX ix_runs_thread_id_status ON runs (thread_id, status)")
        conn.execute("CREATE INDEX ix_threads_status ON threads (status)")
    db = await Database.open(settings_for(f"sqlite:///{path}"))
    await db.close()
    with sqlite3.connect(path) as conn:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_runs_in_flight_thread_id" in indexes and "ix_threads_status_not_idle" in indexes
    assert not indexes & {"ix_runs_thread_id_status", "ix_threads_status"}


async def test_an_older_sqlite_file_gains_the_new_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = await Database.open(settings_for(f"sqlite:///{path}"))
    await db.close()
    with sqlite3.connect(path) as conn:  # as a file made before runs had leases
        conn.execute("INSERT INTO threads (thread_id, created_at, updated_at, metadata, config, status, interrupts)"
                     " VALUES ('t1', '2026-01-01', '2026-01-01', '{}', '{}', 'idle', '{}')")  # fmt: skip
        for column in ("lease_owner", "lease_expires_at", "cancel_requested"):
            conn.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    db = await Database.open(settings_for(f"sqlite:///{path}"))
    await db.close()
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        assert conn.execute("SELECT thread_id FROM threads").fetchall() == [("t1",)]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"lease_owner", "lease_expires_at", "cancel_requested"} <= columns
    assert "run_events" not in tables, "the stream events table is PostgreSQL's alone"


async def test_checkpoints_survive_a_restart(database_url: str) -> None:
    settings = settings_for(database_url)
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    async with open_checkpointer(settings) as saver:
        await tiny_graph().compile(checkpointer=saver).ainvoke({"messages": [("user", "one")]}, config)
    async with open_checkpointer(settings) as saver:
        graph = tiny_graph().compile(checkpointer=saver)
        state = await graph.aget_state(config)
        assert [m.content for m in state.values["messages"]] == ["one", "echo 1"]
        await graph.ainvoke({"messages": [("user", "two")]}, config)
        assert len((await graph.aget_state(config)).values["messages"]) == 4


async def test_sqlite_writers_queue_instead_of_failing(tmp_path: Path) -> None:
    """Many concurrent read-then-write transactions on one file: none may fail with 'database is locked'."""
    db = await Database.open(settings_for(f"sqlite:///{tmp_path}/busy.db"))
    thread_id = uuid.uuid4()
    async with db.session() as session:
        session.add(Thread(thread_id=thread_id, metadata_={"n": 0}))

    async def bump() -> None:
        async with db.session() as session:
            thread = await session.get(Thread, thread_id)
            await asyncio.sleep(0)
            thread.metadata_ = {"n": thread.metadata_["n"] + 1}

    await asyncio.gather(*(bump() for _ in range(40)))
    async with db.read_session() as session:
        assert (await session.get(Thread, thread_id)).metadata_ == {"n": 40}
    await db.close()


@pytest.mark.postgres
async def test_postgres_migration_matches_the_models_and_is_idempotent(postgres_url: str) -> None:
    settings = settings_for(postgres_url)
    db = await Database.open(settings)
    try:
        assert await current_revision(db.engine) == head_revision() == "0006"
        # Several workers starting at once: the advisory lock serializes them.
        await asyncio.gather(*(upgrade_to_head(db.engine) for _ in range(3)))
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
            )
        assert diff == [], f"models and migrations disagree; add a migration: {diff}"
    finally:
        await db.close()


@pytest.mark.postgres
async def test_postgres_without_auto_migration_leaves_schema_alone(postgres_url: str) -> None:
    settings = database_from_env({"DATABASE_URL": postgres_url, "RUN_MIGRATIONS_ON_STARTUP": "false"}, Path.cwd())
    db = await Database.open(settings)
    try:
        async with db.engine.connect() as conn:
            exists = await conn.scalar(text("SELECT to_regclass('public.assistants') IS NOT NULL"))
        assert exists is False
    finally:
        await db.close()


async def test_ping_fails_when_the_database_is_unreachable() -> None:
    db = await Database.open(
        database_from_env(
            {"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none", "RUN_MIGRATIONS_ON_STARTUP": "0"}, Path.cwd()
        )
    )
    with pytest.raises(Unavailable, match="cannot be reached"):  # a 503 for the requests that needed it
        await db.ping()
    await db.close()
