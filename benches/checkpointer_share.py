"""How much of a run's cost is LangGraph's checkpointer, on SQLite and on PostgreSQL.

    python benches/checkpointer_share.py --rounds 2 --seconds 8

Runs the `wait` load of runs_load.py (16 clients, the `echo` graph) on one Granian process, four
ways: SQLite and PostgreSQL, each with the server's checkpointer (LangGraph's `AsyncSqliteSaver` /
`AsyncPostgresSaver`) and with LangGraph's `InMemorySaver` in its place. The swap is made from
outside the server: a `sitecustomize` module, put first on the server's PYTHONPATH, replaces
`aegra.db.checkpointer.open_checkpointer` before the app imports it (the server's code is not
changed for it). Prints the server's CPU per run and PostgreSQL's (the postmaster and its
backends), and their sum. The ways alternate within a round and the order reverses the next
round (this machine drifts).

The difference between a saver and the in-memory one is what that saver costs a run (an
in-memory saver still serializes nothing and writes nothing: it keeps the checkpoints as they
are). Used for issue 18's "PostgreSQL within 2x of SQLite" (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
from cluster_load import postmaster_pid
from runs_load import cpu_seconds, measured_wait_load, wait_load

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from tests.support.postgres import create_database, throwaway_cluster  # noqa: E402
from tests.support.server import granian_server  # noqa: E402

SITECUSTOMIZE = """
import contextlib
import aegra.db.checkpointer
from langgraph.checkpoint.memory import InMemorySaver


@contextlib.asynccontextmanager
async def open_checkpointer(settings, *, database=None):
    yield InMemorySaver()


aegra.db.checkpointer.open_checkpointer = open_checkpointer
"""

WAYS = ["sqlite", "sqlite+memory", "postgres", "postgres+memory"]


async def measure(url: str, server_pid: int, pg_pid: int | None, seconds: float) -> tuple[float, float]:
    """Server and PostgreSQL CPU per run, in ms, under the wait load."""
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=40)) as http:
        await wait_load(http, "echo", 4, 1.5)  # warm-up
        pg_before = cpu_seconds(pg_pid) if pg_pid else 0.0
        latencies, _, server = await measured_wait_load(http, "echo", 16, seconds, server_pid)
        postgres = (cpu_seconds(pg_pid) - pg_before) / len(latencies) if pg_pid else 0.0
    return server * 1000, postgres * 1000


def one_way(way: str, postgres: str, pg_pid: int, shim: Path, seconds: float) -> tuple[float, float]:
    backend, _, memory = way.partition("+")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db" if backend == "sqlite" else create_database(postgres)
        python_path = [str(shim)] if memory else []
        python_path.append(str(HERE.parent / "python"))
        env = {"AEGRA_CONFIG": str(HERE / "graphs" / "aegra.json"), "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
               "PYTHONPATH": ":".join(python_path)}  # fmt: skip
        with granian_server(Path(folder), env) as server:
            pid = pg_pid if backend == "postgres" else None
            return asyncio.run(measure(server.url, server.process.pid, pid, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    totals: dict[str, list[float]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as shim_dir, throwaway_cluster() as cluster:
        shim = Path(shim_dir)
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        pg_pid = postmaster_pid(cluster.data)
        for round_no in range(args.rounds):
            for way in WAYS if round_no % 2 == 0 else WAYS[::-1]:
                server, postgres = one_way(way, cluster.url, pg_pid, shim, args.seconds)
                totals[way].append(server + postgres)
                print(f"round {round_no + 1} {way:16s} server {server:6.2f}  PostgreSQL {postgres:5.2f}  "
                      f"sum {server + postgres:6.2f} ms per run", flush=True)  # fmt: skip
    mean = {way: statistics.mean(values) for way, values in totals.items()}
    for way in WAYS:
        print(f"{way:16s} mean {mean[way]:6.2f} ms per run")
    print(f"PostgreSQL / SQLite: {mean['postgres'] / mean['sqlite']:.2f}x with the savers, "
          f"{mean['postgres+memory'] / mean['sqlite+memory']:.2f}x with in-memory savers")  # fmt: skip
    print(f"the PostgreSQL saver costs {mean['postgres'] - mean['postgres+memory']:.2f} ms per run, "
          f"the SQLite saver {mean['sqlite'] - mean['sqlite+memory']:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
