"""The server's CPU for an MCP `tools/call` against the same run through `POST /runs/wait`.

    AEGRA_CONFIG=benches/graphs/aegra.json DATABASE_URL=sqlite:////tmp/bench.db LOG_LEVEL=WARNING \\
        aegra serve --port 2026 &
    python benches/mcp_ab.py --url http://127.0.0.1:2026 --server-pid "$(pgrep -o -f 'server.process.*2026')"
    python benches/mcp_ab.py --start-server --rounds 3     # a fresh server (SQLite) per round

A `tools/call` is a stateless run of the tool's assistant, so its peer is a stateless
`/runs/wait` of the echo graph with the same input. Each round alternates the two loads
(wait, mcp, mcp, wait) on one server, N clients each, and counts the server's CPU seconds
(Granian and its workers, from /proc) per request. The summary gives each side's mean and the
ratio mcp / wait, with the rounds' spread: this machine's speed drifts by 10-50% over minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from runs_load import cpu_seconds

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from tests.support.server import granian_server  # noqa: E402

INPUT = {"message": "hi"}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}


async def runs_wait(http: httpx.AsyncClient) -> None:
    response = await http.post("/runs/wait", json={"assistant_id": "echo", "input": INPUT})
    response.raise_for_status()
    assert response.json()["reply"] == "hi", response.text


async def tools_call(http: httpx.AsyncClient) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": INPUT}}
    response = await http.post("/mcp", json=body, headers=MCP_HEADERS)
    response.raise_for_status()
    result = response.json()["result"]
    assert not result.get("isError") and result["structuredContent"]["reply"] == "hi", response.text


async def load(http: httpx.AsyncClient, call: Callable[[httpx.AsyncClient], Awaitable[None]], clients: int,
               seconds: float, pid: int | None) -> tuple[float, float]:  # fmt: skip
    """The server's CPU milliseconds per request, and the requests per second."""
    count = 0
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await call(http)
            count += 1

    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return (cpu_seconds(pid) - cpu_before) / count * 1000, count / elapsed


async def one_round(url: str, pid: int | None, clients: int, seconds: float) -> dict[str, list[float]]:
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    sides = {"wait": runs_wait, "mcp": tools_call}
    measured: dict[str, list[float]] = {"wait": [], "mcp": []}
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        for call in sides.values():  # warm-up: graphs built, statements compiled, caches filled
            await load(http, call, 2, 1.0, None)
        for side in ("wait", "mcp", "mcp", "wait"):
            ms, rate = await load(http, sides[side], clients, seconds, pid)
            measured[side].append(ms)
            print(f"  {side:4}: {ms:.2f} ms CPU per request, {rate:.0f} requests/s", flush=True)
    return measured


def run_round(args: argparse.Namespace) -> dict[str, list[float]]:
    if not args.start_server:
        return asyncio.run(one_round(args.url, args.server_pid, args.clients, args.seconds))
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "AEGRA_CONFIG": str(HERE / "graphs" / "aegra.json"),
            "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "LOG_LEVEL": "WARNING",
        }
        with granian_server(Path(folder), env) as server:
            return asyncio.run(one_round(server.url, server.process.pid, args.clients, args.seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:2026")
    parser.add_argument("--server-pid", type=int, default=None, help="Granian's main process (for the CPU figures)")
    parser.add_argument("--start-server", action="store_true", help="start a fresh server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    if not args.start_server and args.server_pid is None:
        parser.error("give --server-pid (or --start-server): the figures are the server's CPU")
    ratios: list[float] = []
    means: dict[str, list[float]] = {"wait": [], "mcp": []}
    for number in range(1, args.rounds + 1):
        print(f"round {number}", flush=True)
        measured = run_round(args)
        wait, mcp = statistics.mean(measured["wait"]), statistics.mean(measured["mcp"])
        means["wait"].append(wait)
        means["mcp"].append(mcp)
        ratios.append(mcp / wait)
        print(f"  mcp / wait: {mcp / wait:.3f}", flush=True)
    spread = f", rounds {min(ratios):.3f}-{max(ratios):.3f}" if len(ratios) > 1 else ""
    print(f"runs/wait : mean {statistics.mean(means['wait']):.2f} ms CPU per request")
    print(f"tools/call: mean {statistics.mean(means['mcp']):.2f} ms CPU per request")
    print(f"tools/call / runs/wait: mean {statistics.mean(ratios):.3f}{spread}")


if __name__ == "__main__":
    main()
