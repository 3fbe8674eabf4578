"""Runs on PostgreSQL with one process, several workers and several hosts, beside SQLite, in one run.

    python benches/cluster_load.py --rounds 2 --seconds 10

Each round starts every layout on a fresh database (SQLite file; a throwaway PostgreSQL cluster of
the tests' kind, or `--postgres-url postgresql://user@host:port` for a running server) and
measures, under the `wait` load of runs_load.py split over the layout's hosts (16 clients, the
`echo` graph):

- the servers' CPU per run (every Granian process of the layout) and PostgreSQL's (the
  postmaster and its backends), and their sum, the figure the targets are about;
- the first SSE event of a streamed run (p50), on the host that executes it;

and for the two-host layout: the first SSE event of a run created on one host and streamed from
the other (p50), and how long a cancel sent to one host takes to stop a run that executes on the
other (p50, p99: until its stream, followed on the executing host, ends). Then `--burst` background
runs created on one host by 16 clients at once (a queue forms) are executed by every worker: the
time until all are terminal. (Created one after the other, as before 2026-12-07, the time was the
client's: every run ended as soon as it was created.)

Layouts alternate within a round and the order reverses the next round (this machine drifts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from runs_load import cpu_seconds, percentile

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from tests.support.postgres import create_database, throwaway_cluster  # noqa: E402
from tests.support.server import RunningServer, granian_server  # noqa: E402

# name -> (backend, hosts, workers per host)
LAYOUTS = {
    "sqlite": ("sqlite", 1, 1),
    "pg-1": ("postgres", 1, 1),
    "pg-2workers": ("postgres", 1, 2),
    "pg-2hosts": ("postgres", 2, 1),
}


@dataclass
class Figures:
    server_ms: list[float] = field(default_factory=list)
    postgres_ms: list[float] = field(default_factory=list)
    runs_per_s: list[float] = field(default_factory=list)
    first_event_ms: list[float] = field(default_factory=list)
    cross_first_event_ms: list[float] = field(default_factory=list)
    cancel_ms: list[float] = field(default_factory=list)
    burst_s: list[float] = field(default_factory=list)


def postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split()[0])


async def split_wait_load(urls: list[str], clients: int, seconds: float) -> int:
    """The `wait` load, clients spread over the hosts; how many runs finished."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def one_client(url: str) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            while time.perf_counter() < deadline:
                response = await http.post(
                    f"/threads/{thread}/runs/wait", json={"assistant_id": "echo", "input": {"message": "hi"}}
                )
                response.raise_for_status()
                done += 1

    await asyncio.gather(*(one_client(urls[i % len(urls)]) for i in range(clients)))
    return done


async def first_event(create_url: str, stream_url: str, samples: int) -> list[float]:
    """From a run's creation (on one host) to its first SSE event (streamed from another, or the same)."""
    latencies = []
    async with (
        httpx.AsyncClient(base_url=create_url, timeout=60) as create,
        httpx.AsyncClient(base_url=stream_url, timeout=60) as stream,
    ):
        for _ in range(samples):
            thread = (await create.post("/threads", json={})).json()["thread_id"]
            start = time.perf_counter()
            if create_url == stream_url:
                request = stream.stream("POST", f"/threads/{thread}/runs/stream",
                                        json={"assistant_id": "echo", "input": {"message": "x"}})  # fmt: skip
            else:
                run = (await create.post(f"/threads/{thread}/runs",
                                         json={"assistant_id": "echo", "input": {"message": "x"}})).json()  # fmt: skip
                request = stream.stream("GET", f"/threads/{thread}/runs/{run['run_id']}/stream")
            async with request as response:
                async for _chunk in response.aiter_raw():
                    latencies.append(time.perf_counter() - start)
                    break
    return latencies


async def cancel_latency(run_url: str, cancel_url: str, samples: int) -> list[float]:
    """A `ticker` run created on `run_url` (which executes it) and cancelled through `cancel_url`:
    the time from the cancel request to the end of the run's stream on `run_url`."""
    latencies = []
    async with (
        httpx.AsyncClient(base_url=run_url, timeout=60) as runs,
        httpx.AsyncClient(base_url=cancel_url, timeout=60) as cancels,
    ):
        for _ in range(samples):
            thread = (await runs.post("/threads", json={})).json()["thread_id"]
            body = {"assistant_id": "ticker", "input": {"seconds": 30}, "stream_mode": ["custom"]}
            async with runs.stream("POST", f"/threads/{thread}/runs/stream", json=body) as response:
                run_id = response.headers["content-location"].rsplit("/", 1)[-1]
                chunks = response.aiter_raw()
                for _ in range(3):  # a few ticks: it is running
                    await anext(chunks)
                sent = time.perf_counter()
                (await cancels.post(f"/threads/{thread}/runs/{run_id}/cancel")).raise_for_status()
                async for _chunk in chunks:
                    pass
                latencies.append(time.perf_counter() - sent)
    return latencies


async def burst(create_url: str, count: int, creators: int = 16) -> float:
    """`count` background runs, each on a new thread, created on one host by `creators` clients at
    once (faster than the layout executes them, so a queue forms and the time is the execution's):
    the time until every one is terminal. Completion is watched with one thread search a sweep (a
    run keeps its thread busy until it ends; the layout's other threads are idle by now), so the
    watching costs the servers next to nothing; every run's status is checked after the clock stops."""
    start = time.perf_counter()
    created: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=create_url, timeout=60) as http:

        async def creator(runs: int) -> None:
            for _ in range(runs):
                thread = (await http.post("/threads", json={})).json()["thread_id"]
                run = (await http.post(f"/threads/{thread}/runs",
                                       json={"assistant_id": "echo", "input": {"message": "b"}})).json()  # fmt: skip
                created.append((thread, run["run_id"]))

        await asyncio.gather(*(creator(count // creators + (i < count % creators)) for i in range(creators)))
        print(f"  (burst: {count} created in {time.perf_counter() - start:.2f} s)", flush=True)
        for _ in range(12_000):  # 10 minutes at most
            if not (await http.post("/threads/search", json={"status": "busy", "limit": 1})).json():
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit("burst: runs still in flight after 10 minutes")
        elapsed = time.perf_counter() - start
        for thread, run_id in created:
            status = (await http.get(f"/threads/{thread}/runs/{run_id}")).json()["status"]
            if status != "success":
                raise SystemExit(f"burst: run {run_id} ended {status}")
    return elapsed


@contextlib.contextmanager
def layout_servers(name: str, postgres: str | None, folder: Path) -> Iterator[list[RunningServer]]:
    backend, hosts, workers = LAYOUTS[name]
    url = f"sqlite:///{folder}/bench.db" if backend == "sqlite" else create_database(postgres)  # type: ignore[arg-type]
    env = {"AEGRA_CONFIG": str(HERE / "graphs" / "aegra.json"), "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
           "DB_POOL_SIZE": "10", "DB_MAX_OVERFLOW": "5"}  # fmt: skip
    with contextlib.ExitStack() as stack:
        servers = []
        for host in range(hosts):
            (folder / f"host{host}").mkdir()
            servers.append(stack.enter_context(granian_server(folder / f"host{host}", env, workers=workers)))
        yield servers


async def measure(name: str, servers: list[RunningServer], pg_pid: int | None, args: argparse.Namespace,
                  figures: Figures) -> None:  # fmt: skip
    urls = [server.url for server in servers]
    pids = [server.process.pid for server in servers]
    await split_wait_load(urls, 2, 1.0)  # warm-up
    server_before = sum(cpu_seconds(pid) for pid in pids)
    pg_before = cpu_seconds(pg_pid) if pg_pid and LAYOUTS[name][0] == "postgres" else 0.0
    runs = await split_wait_load(urls, args.clients, args.seconds)
    if not runs:
        raise SystemExit(f"{name}: no run finished in {args.seconds:g} s (is the machine that busy?)")
    figures.server_ms.append((sum(cpu_seconds(pid) for pid in pids) - server_before) / runs * 1000)
    if pg_pid and LAYOUTS[name][0] == "postgres":
        figures.postgres_ms.append((cpu_seconds(pg_pid) - pg_before) / runs * 1000)
    figures.runs_per_s.append(runs / args.seconds)
    figures.first_event_ms.append(statistics.median(await first_event(urls[0], urls[0], 30)) * 1000)
    if len(urls) > 1:
        figures.cross_first_event_ms.append(statistics.median(await first_event(urls[0], urls[1], 30)) * 1000)
        figures.cancel_ms.extend(latency * 1000 for latency in await cancel_latency(urls[0], urls[1], 20))
    if args.burst:
        figures.burst_s.append(await burst(urls[0], args.burst))


def report(name: str, figures: Figures) -> None:
    def spread(values: list[float], unit: str) -> str:
        return ", ".join(f"{v:.2f}" for v in values) + f" {unit}" if values else "-"

    total = [s + p for s, p in zip(figures.server_ms, figures.postgres_ms, strict=False)] or figures.server_ms
    print(f"{name}:")
    print(f"  server CPU per run: {spread(figures.server_ms, 'ms')}")
    print(f"  PostgreSQL CPU per run: {spread(figures.postgres_ms, 'ms')}")
    print(f"  server + PostgreSQL: {spread(total, 'ms')} (mean {statistics.mean(total):.2f})")
    print(f"  runs/s: {spread(figures.runs_per_s, '')}")
    print(f"  first SSE event p50: {spread(figures.first_event_ms, 'ms')}")
    if figures.cross_first_event_ms:
        print(f"  first SSE event from the other host p50: {spread(figures.cross_first_event_ms, 'ms')}")
        cancel = sorted(figures.cancel_ms)
        print(f"  cancel from the other host: p50 {statistics.median(cancel):.1f} ms, "
              f"p99 {percentile([c / 1000 for c in cancel], 0.99) * 1000:.1f} ms over {len(cancel)}")  # fmt: skip
    if figures.burst_s:
        print(f"  background runs, all terminal: {spread(figures.burst_s, 's')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--burst", type=int, default=1000, help="background runs per layout (0: skip)")
    parser.add_argument("--postgres-url", help="a running PostgreSQL server (no database part); else a throwaway one")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help=f"some of {', '.join(LAYOUTS)}")
    args = parser.parse_args()
    names = args.layouts.split(",")
    figures = {name: Figures() for name in names}
    with contextlib.ExitStack() as stack:
        if args.postgres_url:
            postgres, pg_pid = args.postgres_url, None
        else:
            cluster = stack.enter_context(throwaway_cluster())
            postgres, pg_pid = cluster.url, postmaster_pid(cluster.data)
        for round_number in range(args.rounds):
            order = names if round_number % 2 == 0 else list(reversed(names))
            for name in order:
                with tempfile.TemporaryDirectory() as folder, layout_servers(name, postgres, Path(folder)) as servers:
                    asyncio.run(measure(name, servers, pg_pid, args, figures[name]))
                print(f"round {round_number + 1}: {name} done", flush=True)
    for name in names:
        report(name, figures[name])
    if "sqlite" in figures and "pg-1" in figures and figures["pg-1"].postgres_ms:
        ratio = _total(figures["pg-1"]) / statistics.mean(figures["sqlite"].server_ms)
        print(f"PostgreSQL (server + PostgreSQL) / SQLite per run, one process: {ratio:.2f}x")
    for name in ("pg-2workers", "pg-2hosts"):
        if name in figures and "pg-1" in figures and figures[name].postgres_ms:
            print(f"{name} / pg-1 per run: {_total(figures[name]) / _total(figures['pg-1']):.2f}x")


def _total(figures: Figures) -> float:
    """Mean server + PostgreSQL CPU per run."""
    return statistics.mean(s + p for s, p in zip(figures.server_ms, figures.postgres_ms, strict=False))


if __name__ == "__main__":
    main()
