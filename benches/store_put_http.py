"""Store puts and semantic searches through HTTP, one at a time: latency per request, with the
embedder up and (on versions that have the waiting list) down. Versions alternate A B B A.

    git worktree add /tmp/base main && cp python/aegra/_vec.abi3.so /tmp/base/python/aegra/
    python benches/store_put_http.py --a /tmp/base --b . --rounds 2
    python benches/store_put_http.py --a /tmp/base --b . --rounds 2 --postgres   # pgvector (pgserver)

Each run starts `aegra serve`'s Granian (1 worker) on a fresh SQLite file (with `--postgres`: a
fresh database on a throwaway PostgreSQL with pgvector, the `pgserver` wheel's) with a user-function
embedder (the tests' hashing embedder, 32 dims: the embedder's own cost is near zero, so the
figures are the server's and the store's), then: PUT_COUNT sequential puts of one item (p50/p99),
SEARCH_COUNT semantic searches with `query` (p50/p99). With `--down`, the embed function raises,
as an unreachable model does: puts are saved waiting (a 503 on versions before the waiting list).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.postgres import create_database, free_port, pgserver_bin, throwaway_cluster  # noqa: E402

PUT_COUNT = 500
SEARCH_COUNT = 300
EMBED = """
import os
from tests.support.tiny_model import embed as hashing_embed


def embed(texts):
    if os.environ.get("BENCH_EMBEDDER_DOWN"):
        raise ConnectionError("the embedding service cannot be reached")
    return hashing_embed(texts)
"""
GRAPH = "from langgraph.graph import StateGraph, MessagesState\n" + (
    "graph = StateGraph(MessagesState).add_node('a', lambda s: {}).set_entry_point('a').compile()\n"
)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    return f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"


def run(root: Path, down: bool, postgres: str | None) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = {"index": {"embed": "./embed.py:embed", "dims": 32, "fields": ["text"]}}
        (folder / "aegra.json").write_text(json.dumps({"graphs": {"agent": "./graph.py:graph"}, "store": store}))
        (folder / "embed.py").write_text(EMBED)
        (folder / "graph.py").write_text(GRAPH)
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": f"{root.resolve() / 'python'}:{REPO}",
            "DATABASE_URL": create_database(postgres) if postgres else f"sqlite:///{folder / 'bench.db'}",
            "BENCH_EMBEDDER_DOWN": "1" if down else "",
        }
        argv = [sys.executable, "-m", "aegra.server.process", "--host", "127.0.0.1", "--port", str(port)]
        log = (folder / "server.log").open("wb")
        process = subprocess.Popen(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=30) as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if http.get("/ok").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit((folder / "server.log").read_text())
                    time.sleep(0.1)
                puts, statuses = [], set()
                for n in range(PUT_COUNT):
                    body = {
                        "namespace": ["bench", str(n % 10)],
                        "key": f"k{n}",
                        "value": {"text": f"note {n} w{n % 37}"},
                    }
                    start = time.perf_counter()
                    statuses.add(http.put("/store/items", json=body).status_code)
                    puts.append(time.perf_counter() - start)
                searches = []
                for n in range(SEARCH_COUNT):
                    body = {"namespace_prefix": ["bench"], "query": f"note w{n % 37}", "limit": 10}
                    start = time.perf_counter()
                    statuses.add(http.post("/store/items/search", json=body).status_code)
                    searches.append(time.perf_counter() - start)
            return {"put": percentiles(puts), "search": percentiles(searches), "status": str(sorted(statuses))}
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="a checkout's root (the base)")
    parser.add_argument("--b", type=Path, required=True, help="a checkout's root (the change)")
    parser.add_argument("--rounds", type=int, default=2, help="A B B A rounds")
    parser.add_argument("--down", action="store_true", help="the embed function raises")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL + pgvector instead of SQLite")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        postgres = None
        if args.postgres:
            pg_bin = pgserver_bin()
            if pg_bin is None:
                raise SystemExit("--postgres needs the `pgserver` package (pip install -e '.[dev]')")
            postgres = stack.enter_context(throwaway_cluster(pg_bin)).url
        for _ in range(args.rounds):
            for name, root in (("A", args.a), ("B", args.b), ("B", args.b), ("A", args.a)):
                result = run(root, args.down, postgres)
                print(
                    f"{name}  put {result['put']}   search {result['search']}   statuses {result['status']}", flush=True
                )


if __name__ == "__main__":
    main()
