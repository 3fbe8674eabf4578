"""Whole-thread operations on the checkpointer: copying a thread's checkpoints, pruning them.

Both go through the public `BaseCheckpointSaver` API where it offers the operation, so they
work on the SQLite and the PostgreSQL saver alike (neither implements `acopy_thread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from aegra.db.repositories.threads import sqlite_keep_latest_checkpoints
from aegra.errors import Invalid


async def copy_checkpoints(saver: BaseCheckpointSaver, source: str, target: str) -> None:
    """Every checkpoint of `source` (all namespaces) with its pending writes, under `target`.

    Checkpoint ids and parent links stay the same, so history and `before` cursors of the
    copy read like the original's.
    """
    # Collected first: the SQLite saver holds its connection's lock while `alist` yields.
    tuples = [t async for t in saver.alist({"configurable": {"thread_id": source}})]
    # `alist` yields newest first; parents go in before their children.
    for t in reversed(tuples):
        configurable: dict[str, Any] = {"thread_id": target, "checkpoint_ns": t.config["configurable"]["checkpoint_ns"]}
        if t.parent_config:
            configurable["checkpoint_id"] = t.parent_config["configurable"]["checkpoint_id"]
        metadata: Any = {
            key: target if key == "thread_id" and value == source else value for key, value in t.metadata.items()
        }
        written = await saver.aput(
            {"configurable": configurable}, t.checkpoint, metadata, dict(t.checkpoint["channel_versions"])
        )
        for task_id, writes in _writes_by_task(t):
            await saver.aput_writes(written, writes, task_id)


def _writes_by_task(t: CheckpointTuple) -> list[tuple[str, list[tuple[str, Any]]]]:
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in t.pending_writes or ():
        grouped.setdefault(task_id, []).append((channel, value))
    return list(grouped.items())


async def delete_checkpoints(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> None:
    for thread_id in thread_ids:
        await saver.adelete_thread(thread_id)


async def keep_latest_checkpoints(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> None:
    """Drop all but each namespace's newest checkpoint of these threads."""
    if type(saver).aprune is not BaseCheckpointSaver.aprune:
        try:
            await saver.aprune(list(thread_ids), strategy="keep_latest")
        except NotImplementedError as exc:
            raise Invalid(f"keep_latest cannot prune these threads: {exc}") from None
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if not isinstance(saver, AsyncSqliteSaver):
        raise Invalid(f"keep_latest is not supported by the {type(saver).__name__} checkpointer")
    await saver.setup()
    async with saver.lock:
        await sqlite_keep_latest_checkpoints(saver.conn, list(thread_ids))
