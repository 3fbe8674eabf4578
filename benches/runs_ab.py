"""Two versions (or two settings) of the server on the runs benchmark, alternated.

    git worktree add /tmp/base main && cp python/aegra/_vec.abi3.so /tmp/base/python/aegra/
    python benches/runs_ab.py --a /tmp/base --b . --rounds 4
    python benches/runs_ab.py --a . --b . --env-b AEGRA_PIN_CPU=true
    python benches/runs_ab.py --a /tmp/base --b . --workload thread-get   # GET /threads/{id} under wrk
    python benches/runs_ab.py --a . --b . --webhook-b   # B's runs carry a webhook (to webhook_sink.py)
    python benches/runs_ab.py --a /tmp/base --b . --webhook-a --webhook-b   # two versions, both with webhooks

This machine's speed drifts by 10-50% over minutes (benches/README.md): two versions measured one
after the other differ by as much as most changes do. So each round runs A B B A, each time a
fresh server (Granian, one worker, a new SQLite file) under the `wait` load of runs_load.py, and
the summary compares the server's CPU per run: the means, and the spread of the rounds'
differences.

A version is a checkout's root: its `python/` folder goes first on the server's PYTHONPATH. A
worktree needs the Rust extension there too (built, or copied from a checkout that has it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from route_load import thread_get_load
from runs_load import cpu_seconds, measured_wait_load, wait_load

HERE = Path(__file__).parent
# The tests' helper starts (and stops) a Granian server in a folder; it lives in the repository's root.
sys.path.insert(0, str(HERE.parent))
from tests.support.postgres import create_database, free_port  # noqa: E402
from tests.support.server import granian_server  # noqa: E402

# `--postgres`: measure on a fresh database of this PostgreSQL server, whose postmaster is
# POSTGRES_PID (its CPU, and its backends', counts with the server's when given).
POSTGRES: dict[str, str | int | None] = {"url": None, "pid": None}


async def load(url: str, pid: int, clients: int, seconds: float, webhook: str | None = None) -> tuple[float, float]:
    """The server's CPU per run (ms) and the runs per second, under the `wait` load."""
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await wait_load(http, "echo", 2, 1.0, webhook)  # warm-up
        postgres_pid = POSTGRES["pid"]
        before = cpu_seconds(postgres_pid) if isinstance(postgres_pid, int) else 0.0
        latencies, elapsed, cpu_per_run = await measured_wait_load(http, "echo", clients, seconds, pid, webhook)
        if isinstance(postgres_pid, int):
            cpu_per_run += (cpu_seconds(postgres_pid) - before) / len(latencies)
        return cpu_per_run * 1000, len(latencies) / elapsed


@contextmanager
def webhook_sink() -> Iterator[str]:
    """benches/webhook_sink.py in a process of its own (its CPU is not the server's); its URL."""
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(HERE / "webhook_sink.py"), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert sink.stdout is not None and "listening" in sink.stdout.readline()
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        sink.terminate()
        print(f"  (sink: {sink.communicate(timeout=10)[0].strip()})", flush=True)


def measure(root: Path, extra_env: dict[str, str], clients: int, seconds: float, workload: str = "runs",
            webhook: str | None = None) -> tuple[float, float]:  # fmt: skip
    """The server's CPU per run (or request) in ms, and the runs (requests) per second."""
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "PYTHONPATH": str(root.resolve() / "python"),
            "AEGRA_CONFIG": str(HERE / "graphs" / "aegra.json"),
            "DATABASE_URL": create_database(str(POSTGRES["url"]))
            if POSTGRES["url"]
            else f"sqlite:///{folder}/bench.db",
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        with granian_server(Path(folder), env) as server:
            if workload == "thread-get":
                return thread_get_load(server.url, server.process.pid, seconds, clients)
            return asyncio.run(load(server.url, server.process.pid, clients, seconds, webhook))


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--env-a/--env-b take NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="version A: a checkout's root")
    parser.add_argument("--b", type=Path, default=Path("."), help="version B: a checkout's root")
    parser.add_argument("--env-a", action="append", default=[], metavar="NAME=VALUE", help="extra env for A")
    parser.add_argument("--env-b", action="append", default=[], metavar="NAME=VALUE", help="extra env for B")
    parser.add_argument("--rounds", type=int, default=4, help="each round runs A B B A")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workload", choices=["runs", "thread-get"], default="runs",
                        help="runs: the `wait` load; thread-get: GET /threads/{id} under wrk")  # fmt: skip
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (no database part): run on it")
    parser.add_argument("--postgres-pid", type=int, help="its postmaster's pid: count its CPU per run too")
    parser.add_argument("--webhook-a", action="store_true", help="A's runs carry a webhook (see --webhook-b)")
    parser.add_argument("--webhook-b", action="store_true",
                        help="B's runs carry a webhook to webhook_sink.py, which answers 200 at once")  # fmt: skip
    args = parser.parse_args()
    POSTGRES.update(url=args.postgres, pid=args.postgres_pid)
    sides = {"A": (args.a, parse_env(args.env_a)), "B": (args.b, parse_env(args.env_b))}
    with webhook_sink() if args.webhook_a or args.webhook_b else contextlib.nullcontext() as sink_url:
        compare(args, sides, {"A": sink_url if args.webhook_a else None, "B": sink_url if args.webhook_b else None})


def compare(args: argparse.Namespace, sides: dict[str, tuple[Path, dict[str, str]]],
            webhooks: dict[str, str | None]) -> None:  # fmt: skip
    unit = "request" if args.workload == "thread-get" else "run"
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    differences = []
    for round_number in range(1, args.rounds + 1):
        this_round: dict[str, list[float]] = {"A": [], "B": []}
        for side in "ABBA":
            root, extra_env = sides[side]
            ms, rate = measure(root, extra_env, args.clients, args.seconds, args.workload, webhooks[side])
            this_round[side].append(ms)
            cpu[side].append(ms)
            print(f"round {round_number} {side}: {ms:.3f} ms CPU per {unit}, {rate:.0f} {unit}s/s", flush=True)
        differences.append(statistics.mean(this_round["B"]) - statistics.mean(this_round["A"]))
    mean_a, mean_b = statistics.mean(cpu["A"]), statistics.mean(cpu["B"])
    spread = f" (rounds' differences: stdev {statistics.stdev(differences):.3f} ms)" if len(differences) > 1 else ""
    print(f"A {args.a} {' '.join(args.env_a)}: mean {mean_a:.3f} ms CPU per {unit} over {len(cpu['A'])} loads")
    print(f"B {args.b} {' '.join(args.env_b)}: mean {mean_b:.3f} ms CPU per {unit} over {len(cpu['B'])} loads")
    print(f"B - A: {mean_b - mean_a:+.3f} ms ({(mean_b / mean_a - 1) * 100:+.1f}%){spread}; "
          f"B was lower in {sum(d < 0 for d in differences)} of {len(differences)} rounds")  # fmt: skip


if __name__ == "__main__":
    main()
