"""The floor for a run's cost: the benchmark graph invoked in-process, without a checkpointer,
with LangGraph's `AsyncSqliteSaver` on aiosqlite (its stock setup), and with the checkpointer
the server uses on SQLite (the same saver on an inline connection, db/checkpointer.py).
CPU time per invoke.

    python benches/graph_floor.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from aegra.config import DatabaseSettings
from aegra.db.checkpointer import open_checkpointer
from aegra.db.engine import sqlite_pragmas

HERE = Path(__file__).parent


def load_echo():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_echo", HERE / "graphs" / "echo.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.builder


async def cpu_per_invoke(graph, runs: int, threaded: bool) -> float:
    start = time.process_time()
    for _ in range(runs):
        config = {"configurable": {"thread_id": str(uuid.uuid4())}} if threaded else None
        await graph.ainvoke({"message": "hi"}, config)
    return (time.process_time() - start) / runs


async def floors(runs: int) -> dict[str, float]:
    """CPU seconds per invoke: bare, with the stock AsyncSqliteSaver, with the server's checkpointer."""
    builder = load_echo()
    bare = await cpu_per_invoke(builder.compile(), runs, threaded=False)
    with tempfile.TemporaryDirectory() as folder:
        async with aiosqlite.connect(Path(folder) / "floor.db") as conn:
            for pragma in sqlite_pragmas(30000):
                await conn.execute(pragma)
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            stock = await cpu_per_invoke(builder.compile(checkpointer=saver), runs, threaded=True)
        settings = DatabaseSettings(backend="sqlite", sqlite_path=Path(folder) / "server.db")
        async with open_checkpointer(settings) as server_saver:
            ours = await cpu_per_invoke(builder.compile(checkpointer=server_saver), runs, threaded=True)
    return {"bare": bare, "stock": stock, "server": ours}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    cost = await floors(args.runs)
    print(f"in-process ainvoke, no checkpointer:                     {cost['bare'] * 1000:.2f} ms CPU per run")
    print(f"in-process ainvoke, AsyncSqliteSaver on aiosqlite (WAL):  {cost['stock'] * 1000:.2f} ms CPU per run")
    print(f"in-process ainvoke, the server's SQLite checkpointer:     {cost['server'] * 1000:.2f} ms CPU per run")


if __name__ == "__main__":
    asyncio.run(main())
