"""Load benchmark for runs, against any server that speaks the LangGraph Platform API.

    # start a server on the benchmark graph (any peer works the same way)
    AEGRA_CONFIG=benches/graphs/aegra.json DATABASE_URL=sqlite:////tmp/bench.db aegra serve --port 2026
    python benches/runs_load.py --url http://127.0.0.1:2026 --assistant echo

Prints: `wait` throughput and latency with N concurrent clients (each on its own thread),
the time for a burst of background runs to all reach a terminal status, the latency of the
first SSE event of streamed runs, and (with --server-pid) the server's CPU seconds per run;
with --floor also the graph's own in-process cost (graph_floor.py), measured in the same run
(before and after the load), and the server's cost as a multiple of it.

With the default 16 clients and the server's default N_JOBS_PER_WORKER=10, up to six runs are
queued: nearly every run is stored `pending` and claimed when another ends. That path costs the
server more CPU per run than runs that start at once (measured 0.3-0.6 ms more here, with
N_JOBS_PER_WORKER=16 for comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import httpx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int | None) -> float:
    """utime+stime of a process and its live children (Granian workers, PostgreSQL backends), plus
    what its reaped children used (cutime+cstime): a backend that exits during a measurement still
    counts, and one that exits between listing and reading is skipped rather than failing."""
    if pid is None:
        return 0.0
    tick = 100.0
    parent = _stat(pid)
    assert parent is not None, f"process {pid} is gone"
    total = sum(int(parent[i]) for i in (11, 12, 13, 14)) / tick
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        fields = _stat(int(child))
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


async def wait_load(http: httpx.AsyncClient, assistant: str, clients: int, seconds: float,
                    webhook: str | None = None) -> list[float]:  # fmt: skip
    """`clients` threads, each running `wait` runs one after the other; each run with `webhook`, if given."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    body = {"assistant_id": assistant, "input": {"message": "hi"}}
    if webhook:
        body["webhook"] = webhook

    async def one_client() -> None:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = await http.post(f"/threads/{thread}/runs/wait", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


async def measured_wait_load(http: httpx.AsyncClient, assistant: str, clients: int, seconds: float,
                             server_pid: int | None,
                             webhook: str | None = None) -> tuple[list[float], float, float]:  # fmt: skip
    """The `wait` load: its latencies, how long it took, and the server's CPU seconds per run."""
    cpu_before, started = cpu_seconds(server_pid), time.perf_counter()
    latencies = await wait_load(http, assistant, clients, seconds, webhook)
    elapsed = time.perf_counter() - started
    return latencies, elapsed, (cpu_seconds(server_pid) - cpu_before) / len(latencies)


async def background_burst(http: httpx.AsyncClient, assistant: str, count: int) -> float:
    start = time.perf_counter()
    created = []
    for _ in range(count):
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        run = (await http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "input": {}})).json()
        created.append((thread, run["run_id"]))
    pending = set(created)
    while pending:
        for thread, run_id in list(pending):
            status = (await http.get(f"/threads/{thread}/runs/{run_id}")).json()["status"]
            if status not in ("pending", "running"):
                pending.discard((thread, run_id))
        if pending:
            await asyncio.sleep(0.02)
    return time.perf_counter() - start


async def first_event_latency(http: httpx.AsyncClient, assistant: str, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        start = time.perf_counter()
        async with http.stream(
            "POST", f"/threads/{thread}/runs/stream", json={"assistant_id": assistant, "input": {"message": "x"}}
        ) as response:
            first = True
            async for _chunk in response.aiter_raw():
                if first:
                    latencies.append(time.perf_counter() - start)
                    first = False
    return latencies


async def measure_floor() -> dict[str, float]:
    from graph_floor import floors

    return await floors(1000)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:2026")
    parser.add_argument("--assistant", default="echo")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--server-pid", type=int, default=None, help="measure the server's CPU per run")
    parser.add_argument("--floor", action="store_true", help="also measure the in-process graph cost (needs aegra)")
    parser.add_argument("--webhook", default=None,
                        help="each `wait` run carries this webhook (e.g. benches/webhook_sink.py's URL)")  # fmt: skip
    args = parser.parse_args()
    limits = httpx.Limits(max_connections=args.clients * 2, max_keepalive_connections=args.clients * 2)
    async with httpx.AsyncClient(base_url=args.url, timeout=120, limits=limits) as http:
        await wait_load(http, args.assistant, 2, 1.0)  # warm-up
        # The floor is measured before and after the load and averaged: this machine's speed drifts
        # by 10-50% over minutes, and one measurement on one side would carry that into the ratio.
        floor_before = await measure_floor() if args.server_pid and args.floor else None
        latencies, elapsed, cpu_per_run = await measured_wait_load(
            http, args.assistant, args.clients, args.seconds, args.server_pid, args.webhook
        )
        print(f"wait: {len(latencies)} runs in {elapsed:.1f} s = {len(latencies) / elapsed:.1f} runs/s "
              f"with {args.clients} clients; p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms")  # fmt: skip
        if args.server_pid:
            print(f"server CPU per run: {cpu_per_run * 1000:.2f} ms")
        if floor_before is not None:
            floor_after = await measure_floor()
            ours, stock = ((floor_before[k] + floor_after[k]) / 2 for k in ("server", "stock"))
            print(f"floor (in-process ainvoke, before/after the load): {floor_before['server'] * 1000:.2f}/"
                  f"{floor_after['server'] * 1000:.2f} ms with the server's SQLite checkpointer -> server/floor "
                  f"{cpu_per_run / ours:.2f}x; {floor_before['stock'] * 1000:.2f}/{floor_after['stock'] * 1000:.2f} ms "
                  f"with AsyncSqliteSaver on aiosqlite -> {cpu_per_run / stock:.2f}x")  # fmt: skip
        burst = await background_burst(http, args.assistant, args.burst)
        print(f"background: {args.burst} runs created and all terminal in {burst:.2f} s")
        first = await first_event_latency(http, args.assistant, 50)
        print(f"stream: first SSE event p50 {statistics.median(first) * 1000:.1f} ms, "
              f"p99 {percentile(first, 0.99) * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
