"""The store through HTTP: startup with a large store, and listings (search without a query).

    # start a server on a store file (e.g. one `store_scale.py --keep DIR` made) and measure:
    python benches/store_http.py --serve /tmp/store-1m/store.db
    # or measure a server already running (its Granian main process for the CPU figures):
    python benches/store_http.py --url http://127.0.0.1:2026 --server-pid 1234
    # or compare two versions of the code on one file: this tree (B) and another checkout's (A),
    # both servers up at once, each case alternated A B B A for --rounds (medians and ranges):
    python benches/store_http.py --serve /tmp/store-1m/store.db --versus /tmp/main-checkout --rounds 3

With `--serve`: the time from starting `aegra serve` to its first `/ok`, and to the answer of a
first semantic search (which waits for the vector index's background load). Then, on any server:
`POST /store/items/search` without a query - namespace prefix and/or value filter, newest first,
limit 10 - from 16 concurrent clients for a bounded number of requests, and the server's CPU time
per request (utime + stime of Granian and its workers, from /proc), and the same for `GET
/threads/{id}` (the floor: what any request costs the server; a POST's body costs more, see the
empty namespace's line). The cases assume the data of
`store_scale.py` (namespaces ("tenant", 0-99, "user", 0-999), `kind` = "kind3" on 10% of items).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CASES: dict[str, dict[str, Any]] = {
    "prefix 1% + filter 10% (0.1%)": {"namespace_prefix": ["tenant", "7"], "filter": {"kind": "kind3"}},
    "prefix 1%": {"namespace_prefix": ["tenant", "7"]},
    "filter 10%": {"filter": {"kind": "kind3"}},
    "prefix of one namespace (0.1%)": {"namespace_prefix": ["tenant", "7", "user", "107"]},
    # What a POST with a body costs beside the GET floor (the body's trip from Granian measured
    # ~0.4 ms of the server's CPU at load 4): a listing that finds nothing at once.
    "floor with a body: empty namespace": {"namespace_prefix": ["none"]},
}
EMBED = """
import numpy as np


def embed(texts):
    return [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(384).tolist() for t in texts]
"""


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its descendants (Granian's workers), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    except FileNotFoundError:
        pass
    return total


async def load(url: str, pid: int, body: dict | None, requests: int, clients: int) -> tuple[float, float, int]:
    """(server CPU ms per request, requests/s, items in the last answer). `body` None: `GET
    /threads/{id}` of a new thread instead, the per-request floor of the server's HTTP stack."""
    count = {"left": requests, "items": 0}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        if body is None:
            thread = (await http.post("/threads", json={})).json()["thread_id"]

        async def call() -> httpx.Response:
            if body is None:
                return await http.get(f"/threads/{thread}")
            return await http.post("/store/items/search", json={**body, "limit": 10})

        async def client() -> None:
            while count["left"] > 0:
                count["left"] -= 1
                response = await call()
                response.raise_for_status()
                count["items"] = len(response.json()["items"]) if body is not None else 1

        await call()  # warm
        cpu, start = tree_cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - start
        cpu = tree_cpu_seconds(pid) - cpu
    return cpu / requests * 1000, requests / seconds, count["items"]


def serve(db: Path, code: Path | None = None) -> tuple[subprocess.Popen[bytes], str, float, float]:
    """Start `aegra serve` on `db` (with the `python/` of the checkout `code`, else this tree's);
    (process, url, seconds to /ok, seconds to a first semantic search)."""
    from tests.support.postgres import free_port

    folder = Path(tempfile.mkdtemp(prefix="aegra-store-http-"))
    (folder / "graph.py").write_text(
        "from langgraph.graph import StateGraph, START\n"
        "g = StateGraph(dict)\ng.add_node('n', lambda s: s)\ng.add_edge(START, 'n')\ngraph = g.compile()\n"
    )
    (folder / "embed.py").write_text(EMBED)
    config = {"graphs": {"agent": "./graph.py:graph"}, "store": {"index": {"embed": "./embed.py:embed", "dims": 384}}}
    (folder / "aegra.json").write_text(json.dumps(config))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "LOG_LEVEL": "WARNING"}
    if code is not None:
        env["PYTHONPATH"] = str(code / "python")
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "aegra.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        if process.poll() is not None:
            raise SystemExit("the server exited")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.02)
    ok = time.perf_counter() - start
    httpx.post(f"{url}/store/items/search", json={"query": "anything", "limit": 1}, timeout=120).raise_for_status()
    return process, url, ok, time.perf_counter() - start


def versus(db: Path, other: Path, requests: int, clients: int, rounds: int) -> None:
    """Servers of this tree (B) and of `other` (A) on `db` at once, each case alternated A B B A:
    both see the same load from other jobs, which moves single runs by 50% here."""
    servers = {"A": serve(db, other)[:2], "B": serve(db, REPO)[:2]}
    cases: dict[str, dict[str, Any] | None] = {**CASES, "floor: GET /threads/{id}": None}
    cpu: dict[str, dict[str, list[float]]] = {name: {"A": [], "B": []} for name in cases}
    try:
        for _ in range(rounds):
            for name, body in cases.items():
                for side in "ABBA":
                    process, url = servers[side]
                    cpu[name][side].append(asyncio.run(load(url, process.pid, body, requests, clients))[0])
            print(f"  round done, load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    print(f"server CPU ms/request, median (range): A = {other}, B = {REPO}")
    for name, sides in cpu.items():
        a, b = sorted(sides["A"]), sorted(sides["B"])
        print(
            f"  {name:<34} A {statistics.median(a):5.2f} ({a[0]:.2f}-{a[-1]:.2f})"
            f"  B {statistics.median(b):5.2f} ({b[0]:.2f}-{b[-1]:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=Path, help="a store .db file to serve")
    parser.add_argument("--url", help="a running server")
    parser.add_argument("--server-pid", type=int, help="its Granian main process")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--versus", type=Path, help="with --serve: another checkout to compare with (A)")
    parser.add_argument("--rounds", type=int, default=3, help="with --versus: rounds of A B B A")
    args = parser.parse_args()
    if args.serve and args.versus:
        versus(args.serve, args.versus, args.requests, args.clients, args.rounds)
        return
    process = None
    if args.serve:
        # The same server on an empty store first: what startup costs without the store's data.
        empty = Path(tempfile.mkdtemp(prefix="aegra-store-http-empty-")) / "empty.db"
        process, url, ok, searched = serve(empty)
        process.terminate()
        process.wait(timeout=30)
        print(f"server on an empty store: /ok after {ok:.2f} s, first semantic search answered after {searched:.2f} s")
        process, url, ok, searched = serve(args.serve)
        pid = process.pid
        print(f"server on {args.serve}: /ok after {ok:.2f} s, first semantic search answered after {searched:.2f} s")
    else:
        url, pid = args.url, args.server_pid
    try:
        print(f"listings (no query), limit 10, {args.clients} clients, {args.requests} requests each case")
        # The machine's load average beside each figure: other jobs' CPU slows the server's too.
        for name, body in CASES.items():
            cpu_ms, rate, items = asyncio.run(load(url, pid, body, args.requests, args.clients))
            print(
                f"  {name:<34} server CPU {cpu_ms:6.2f} ms/request  {rate:7.0f} req/s  ({items} items)"
                f"  load {os.getloadavg()[0]:.1f}"
            )
        cpu_ms, rate, _ = asyncio.run(load(url, pid, None, args.requests, args.clients))
        print(
            f"  {'floor: GET /threads/{id}':<34} server CPU {cpu_ms:6.2f} ms/request  {rate:7.0f} req/s"
            f"  load {os.getloadavg()[0]:.1f}"
        )
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
