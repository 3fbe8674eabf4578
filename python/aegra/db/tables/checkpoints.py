"""LangGraph's checkpoint tables: what the savers offer no method for, and whole-thread operations.

The state lives in LangGraph's checkpointer (db/checkpointer.py); its public API
(`BaseCheckpointSaver`) is used wherever it offers the operation, so that it works on the SQLite
and the PostgreSQL saver alike. Where it does not, this module speaks to their tables directly:
`checkpoints` and `writes` (AsyncSqliteSaver), `checkpoints` and `checkpoint_writes`
(AsyncPostgresSaver; its `checkpoint_blobs` are keyed by channel version and shared between
checkpoints, so they stay).

- `delete_run_checkpoints`: the checkpoints one run wrote, for the `rollback` cancel action and
  multitask strategy. Which checkpoints those are is read through the saver API: every
  checkpoint carries the run's id in its metadata (LangGraph copies `configurable.run_id` there).
- `keep_latest`: each namespace's newest checkpoint only (thread prune, TTL `keep_latest`).
- `copy_thread`, `delete_threads`: a thread's whole history.
- `thread_storage`: the bytes a thread's checkpoints occupy (`GET /threads/{id}/storage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from aegra.errors import Invalid


def _saver_kind(saver: BaseCheckpointSaver) -> str | None:
    """Which of LangGraph's savers this is, by class name: neither need be importable."""
    kinds = {cls.__name__ for cls in type(saver).__mro__}
    return next((kind for kind in ("AsyncSqliteSaver", "AsyncPostgresSaver") if kind in kinds), None)


# -- one run's checkpoints -------------------------------------------------------------------


async def delete_run_checkpoints(saver: BaseCheckpointSaver, thread_id: str, run_id: str) -> None:
    """Delete every checkpoint (all namespaces) that the run wrote on the thread."""
    found = [
        item.config["configurable"]["checkpoint_id"]
        async for item in saver.alist({"configurable": {"thread_id": thread_id}}, filter={"run_id": run_id})
    ]
    if not found:
        return
    kind = _saver_kind(saver)
    if kind == "AsyncSqliteSaver":
        await _delete_sqlite(saver, thread_id, found)
    elif kind == "AsyncPostgresSaver":
        await _delete_postgres(saver, thread_id, found)
    else:
        raise NotImplementedError(f"rollback is not supported with the {type(saver).__name__} checkpointer")


async def _sqlite_statements(saver: Any, statements: Sequence[tuple[str, Sequence[Any] | dict[str, Any]]]) -> None:
    """Run these on the saver's connection in one transaction, under its lock. The first statement
    begins the transaction (the saver's connections BEGIN IMMEDIATE implicitly), or joins the
    shared connection's open group (db/group_commit.py)."""
    async with saver.lock:
        try:
            for statement, parameters in statements:
                await saver.conn.execute(statement, parameters)
        except BaseException:
            await saver.conn.rollback()
            raise
        await saver.conn.commit()


async def _delete_sqlite(saver: Any, thread_id: str, checkpoint_ids: list[str]) -> None:
    marks = ",".join("?" * len(checkpoint_ids))
    await _sqlite_statements(saver, [
        (f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id IN ({marks})", (thread_id, *checkpoint_ids))
        for table in ("writes", "checkpoints")
    ])  # fmt: skip


async def _delete_postgres(saver: Any, thread_id: str, checkpoint_ids: list[str]) -> None:
    # Aegra builds the saver on a psycopg pool (db/checkpointer.py).
    async with saver.conn.connection() as conn, conn.transaction():
        for table in ("checkpoint_writes", "checkpoints"):
            await conn.execute(
                f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id = ANY(%s)",
                (thread_id, checkpoint_ids),
            )


# -- whole threads ---------------------------------------------------------------------------

# `AsyncSqliteSaver` has no `aprune`; these keep each namespace's newest checkpoint (checkpoint ids
# are time-ordered, as the saver itself assumes) and make it a root, in one transaction.
_SQLITE_KEEP_LATEST = (
    """DELETE FROM writes WHERE thread_id = :t AND checkpoint_id NOT IN (
         SELECT MAX(checkpoint_id) FROM checkpoints c WHERE c.thread_id = :t
         AND c.checkpoint_ns = writes.checkpoint_ns)""",
    """DELETE FROM checkpoints WHERE thread_id = :t AND checkpoint_id NOT IN (
         SELECT MAX(checkpoint_id) FROM checkpoints c WHERE c.thread_id = :t
         AND c.checkpoint_ns = checkpoints.checkpoint_ns)""",
    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = :t",
)


async def keep_latest(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> None:
    """Drop all but each namespace's newest checkpoint of these threads."""
    if type(saver).aprune is not BaseCheckpointSaver.aprune:
        try:
            await saver.aprune(list(thread_ids), strategy="keep_latest")
        except NotImplementedError as exc:
            raise Invalid(f"keep_latest cannot prune these threads: {exc}") from None
        return
    if _saver_kind(saver) != "AsyncSqliteSaver":
        raise Invalid(f"keep_latest is not supported by the {type(saver).__name__} checkpointer")
    await saver.setup()  # type: ignore[attr-defined]
    await _sqlite_statements(saver, [(s, {"t": t}) for t in thread_ids for s in _SQLITE_KEEP_LATEST])


async def delete_threads(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> None:
    for thread_id in thread_ids:
        await saver.adelete_thread(thread_id)


async def copy_thread(saver: BaseCheckpointSaver, source: str, target: str) -> None:
    """Every checkpoint of `source` (all namespaces) with its pending writes, under `target`.

    Checkpoint ids and parent links stay the same, so history and `before` cursors of the
    copy read like the original's. (Neither saver implements `acopy_thread`.)
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


# -- storage ---------------------------------------------------------------------------------


async def thread_storage(saver: BaseCheckpointSaver, thread_id: str) -> dict[str, Any] | None:
    """How many bytes a thread's checkpoints occupy, per table and per channel (langgraph-api's
    report shape), or None for a saver this does not know. The SQLite saver keeps channel values
    inside each checkpoint; the PostgreSQL one in `checkpoint_blobs`."""
    kind = _saver_kind(saver)
    if kind == "AsyncSqliteSaver":
        return await _sqlite_storage(saver, thread_id)
    if kind == "AsyncPostgresSaver":
        return await _postgres_storage(saver, thread_id)
    return None


def _report(
    checkpoints: tuple[int, int], by_channel: dict[str, dict[str, int]], writes: tuple[int, int]
) -> dict[str, Any]:
    channel_bytes = sum(entry["bytes"] for entry in by_channel.values())
    return {
        "total_bytes": checkpoints[1] + channel_bytes + writes[1],
        "checkpoints": {"count": checkpoints[0], "bytes": checkpoints[1]},
        "channel_values": {
            "count": sum(entry["versions"] for entry in by_channel.values()),
            "bytes": channel_bytes,
            "by_channel": by_channel,
        },
        "pending_writes": {"count": writes[0], "bytes": writes[1]},
    }


async def _sqlite_storage(saver: Any, thread_id: str) -> dict[str, Any]:
    await saver.setup()
    async with saver.lock:
        async with saver.conn.execute(
            "SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0) FROM checkpoints "
            "WHERE thread_id = ?",
            (thread_id,),
        ) as cursor:
            checkpoints = await cursor.fetchone()
        async with saver.conn.execute(
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM writes WHERE thread_id = ?", (thread_id,)
        ) as cursor:
            writes = await cursor.fetchone()
    return _report(tuple(checkpoints), {}, tuple(writes))


async def _postgres_storage(saver: Any, thread_id: str) -> dict[str, Any]:
    # The saver's pool hands out rows as dicts (db/checkpointer.py): columns are named.
    async with saver.conn.connection() as conn:
        checkpoints = await (
            await conn.execute(
                "SELECT count(*) AS n, coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0) "
                "AS size FROM checkpoints WHERE thread_id = %s",
                (thread_id,),
            )
        ).fetchone()
        channels = await (
            await conn.execute(
                "SELECT channel, count(*) AS n, coalesce(sum(length(blob)), 0) AS size FROM checkpoint_blobs "
                "WHERE thread_id = %s GROUP BY channel",
                (thread_id,),
            )
        ).fetchall()
        writes = await (
            await conn.execute(
                "SELECT count(*) AS n, coalesce(sum(length(blob)), 0) AS size FROM checkpoint_writes "
                "WHERE thread_id = %s",
                (thread_id,),
            )
        ).fetchone()
    by_channel = {row["channel"]: {"versions": int(row["n"]), "bytes": int(row["size"])} for row in channels}
    return _report(_counted(checkpoints), by_channel, _counted(writes))


def _counted(row: Any) -> tuple[int, int]:
    return int(row["n"]), int(row["size"])
