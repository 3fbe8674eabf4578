"""Deleting the checkpoints one run wrote, for the `rollback` cancel action and multitask strategy.

LangGraph's savers have no API to delete single checkpoints, so this speaks to their tables
directly: `checkpoints` and `writes` (AsyncSqliteSaver), `checkpoints` and `checkpoint_writes`
(AsyncPostgresSaver; its `checkpoint_blobs` are keyed by channel version and shared between
checkpoints, so they stay). Which checkpoints a run wrote is read through the saver API: every
checkpoint carries the run's id in its metadata (LangGraph copies `configurable.run_id` there).
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver


async def checkpoints_of_run(saver: BaseCheckpointSaver, thread_id: str, run_id: str) -> list[str]:
    """Ids of every checkpoint (all namespaces) that the run wrote on the thread."""
    found = []
    async for item in saver.alist({"configurable": {"thread_id": thread_id}}, filter={"run_id": run_id}):
        found.append(item.config["configurable"]["checkpoint_id"])
    return found


async def delete_checkpoints(saver: BaseCheckpointSaver, thread_id: str, checkpoint_ids: list[str]) -> None:
    if not checkpoint_ids:
        return
    kinds = {cls.__name__ for cls in type(saver).__mro__}  # by name: neither saver need be importable
    if "AsyncSqliteSaver" in kinds:
        await _delete_sqlite(saver, thread_id, checkpoint_ids)
    elif "AsyncPostgresSaver" in kinds:
        await _delete_postgres(saver, thread_id, checkpoint_ids)
    else:
        raise NotImplementedError(f"rollback is not supported with the {type(saver).__name__} checkpointer")


async def _delete_sqlite(saver: Any, thread_id: str, checkpoint_ids: list[str]) -> None:
    marks = ",".join("?" * len(checkpoint_ids))
    # The first DELETE begins the transaction (the saver's connections BEGIN IMMEDIATE
    # implicitly), or joins the shared connection's open group.
    async with saver.lock:
        try:
            for table in ("writes", "checkpoints"):
                await saver.conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id IN ({marks})",
                    (thread_id, *checkpoint_ids),
                )
        except BaseException:
            await saver.conn.rollback()
            raise
        await saver.conn.commit()


async def _delete_postgres(saver: Any, thread_id: str, checkpoint_ids: list[str]) -> None:
    # Aegra builds the saver on a psycopg pool (db/checkpointer.py).
    async with saver.conn.connection() as conn, conn.transaction():
        for table in ("checkpoint_writes", "checkpoints"):
            await conn.execute(
                f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id = ANY(%s)",
                (thread_id, checkpoint_ids),
            )
