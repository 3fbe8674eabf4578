"""Two versions (or two settings) of the server on the runs benchmark, alternated.

    git worktree add /tmp/base main && cp python/aegra/_vec.abi3.so /tmp/base/python/aegra/
    python benches/runs_ab.py --a /tmp/base --b . --rounds 4
    python benches/runs_ab.py --a . --b . --env-b AEGRA_PIN_CPU=true

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
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from runs_load import cpu_seconds, wait_load

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(root: Path, extra_env: dict[str, str], port: int, database: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(root.resolve() / "python"),
        "AEGRA_CONFIG": str(HERE / "graphs" / "aegra.json"),
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    argv = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "aegra.server.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, start_new_session=True)


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it answered")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer on {url} within {timeout:g} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def load(url: str, pid: int, clients: int, seconds: float) -> tuple[float, float]:
    """The server's CPU per run (ms) and the runs per second, under the `wait` load."""
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await wait_load(http, "echo", 2, 1.0)  # warm-up
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        latencies = await wait_load(http, "echo", clients, seconds)
        elapsed = time.perf_counter() - started
        return (cpu_seconds(pid) - cpu_before) / len(latencies) * 1000, len(latencies) / elapsed


def measure(root: Path, extra_env: dict[str, str], clients: int, seconds: float) -> tuple[float, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        process = start_server(root, extra_env, port, Path(folder) / "bench.db")
        try:
            wait_until_up(f"http://127.0.0.1:{port}", process)
            return asyncio.run(load(f"http://127.0.0.1:{port}", process.pid, clients, seconds))
        finally:
            stop_server(process)


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
    args = parser.parse_args()
    sides = {"A": (args.a, parse_env(args.env_a)), "B": (args.b, parse_env(args.env_b))}
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    differences = []
    for round_number in range(1, args.rounds + 1):
        this_round: dict[str, list[float]] = {"A": [], "B": []}
        for side in "ABBA":
            root, extra_env = sides[side]
            ms, rate = measure(root, extra_env, args.clients, args.seconds)
            this_round[side].append(ms)
            cpu[side].append(ms)
            print(f"round {round_number} {side}: {ms:.2f} ms CPU per run, {rate:.0f} runs/s", flush=True)
        differences.append(statistics.mean(this_round["B"]) - statistics.mean(this_round["A"]))
    mean_a, mean_b = statistics.mean(cpu["A"]), statistics.mean(cpu["B"])
    spread = f" (rounds' differences: stdev {statistics.stdev(differences):.2f} ms)" if len(differences) > 1 else ""
    print(f"A {args.a} {' '.join(args.env_a)}: mean {mean_a:.2f} ms CPU per run over {len(cpu['A'])} runs")
    print(f"B {args.b} {' '.join(args.env_b)}: mean {mean_b:.2f} ms CPU per run over {len(cpu['B'])} runs")
    print(f"B - A: {mean_b - mean_a:+.2f} ms ({(mean_b / mean_a - 1) * 100:+.1f}%){spread}; "
          f"B was lower in {sum(d < 0 for d in differences)} of {len(differences)} rounds")  # fmt: skip


if __name__ == "__main__":
    main()
