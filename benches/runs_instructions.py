"""Instructions per run: two versions (or settings) of the server counted by valgrind's callgrind.

    apt-get install valgrind
    git worktree add /tmp/base main && cp python/aegra/_vec.abi3.so /tmp/base/python/aegra/
    python benches/runs_instructions.py --a /tmp/base --b . --rounds 2
    python benches/webhook_sink.py --port 4318 &     # an OTLP sink: it answers every POST
    python benches/runs_instructions.py --a . --b . --env-b OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
    # metrics and JSON access logs (B, as `aegra serve` runs by default plus LOG_FORMAT=json) against
    # none of them (A: `http.disable_metrics`, which also stops the counting, and no access log):
    python benches/runs_instructions.py --a . --b . --config-a benches/graphs/aegra-no-metrics.json \
        --env-a LOG_LEVEL=INFO --env-a ACCESS_LOG=false --env-b LOG_LEVEL=INFO --env-b LOG_FORMAT=json

On this shared machine CPU time drifts by 10-50% over minutes (benches/README.md), which hides
the few percent most changes make. The instructions a run executes do not drift: this script
counts them (callgrind's `Ir`, user space only: SQLite and every library included, the kernel
not) for a fixed number of `runs/wait` runs of the echo graph, after a warm-up, on each version
in turn (A B B A per round), and prints instructions per run and the ratio B/A.

The server runs in one process under uvicorn (valgrind and Granian's forked workers do not mix
well); the app, its database and every run's path are the same as under Granian, only the HTTP
server differs, alike for both versions. The app configures its logging itself (Litestar's
queue handler, LOG_FORMAT, ACCESS_LOG) as under Granian; LOG_LEVEL is WARNING here unless an
`--env-*` says otherwise, so the access log (INFO) is dropped unless asked for. Runs within one
version differ by a few percent (timing decides how writes group into a commit and how often the
event loop turns): compare rounds.
Each server takes about a minute under valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # the repository's root: the tests' helpers
from tests.support.postgres import free_port  # noqa: E402

SERVE = "import sys, uvicorn; uvicorn.run('aegra.server.app:create_app', factory=True, host='127.0.0.1', port=int(sys.argv[1]), log_level='warning', lifespan='on')"  # noqa: E501


async def runs(url: str, count: int, clients: int) -> None:
    """`count` runs/wait per client, each client on a thread of its own."""
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:

        async def client() -> None:
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            for _ in range(count):
                response = await http.post(
                    f"/threads/{thread}/runs/wait", json={"assistant_id": "echo", "input": {"message": "hi"}}
                )
                response.raise_for_status()

        await asyncio.gather(*(client() for _ in range(clients)))


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def instructions_per_run(root: Path, config: Path, extra_env: dict[str, str], count: int, clients: int,
                         warmup: int) -> float:  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        port, out = free_port(), Path(folder) / "callgrind.out"
        env = {
            **os.environ,
            "PYTHONPATH": str(root.resolve() / "python"),
            "AEGRA_CONFIG": str(config),
            "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        # The interpreter itself, not a shim script that execs it (valgrind would lose it).
        python = os.path.realpath(sys.executable)
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                python, "-c", SERVE, str(port)]  # fmt: skip
        # The server's log in a file, not a pipe nobody reads while it runs: with the access log on
        # (`--env-b LOG_LEVEL=INFO`) a pipe would fill and stall the server.
        log = (Path(folder) / "server.log").open("wb")
        server = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 600
            while True:
                try:
                    if httpx.get(f"{url}/ok", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    server.wait()
                    errors = (Path(folder) / "server.log").read_text(errors="replace")
                    raise SystemExit(f"the server under valgrind did not start: {errors[-2000:]}")
                time.sleep(1)
            asyncio.run(runs(url, warmup, clients))
            control(server.pid, "-i", "on")
            asyncio.run(runs(url, count, clients))
            control(server.pid, "-i", "off")
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=120)
            log.close()
        totals = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise SystemExit(f"no totals in {out}")
        return int(totals.group(1)) / (count * clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="version A: a checkout's root")
    parser.add_argument("--b", type=Path, default=Path("."), help="version B: a checkout's root")
    parser.add_argument("--config-a", type=Path, default=HERE / "graphs" / "aegra.json")
    parser.add_argument("--config-b", type=Path, default=HERE / "graphs" / "aegra.json")
    parser.add_argument("--env-a", action="append", default=[], metavar="NAME=VALUE", help="extra env for A")
    parser.add_argument("--env-b", action="append", default=[], metavar="NAME=VALUE", help="extra env for B")
    parser.add_argument("--rounds", type=int, default=1, help="each round counts A B B A")
    parser.add_argument("--runs", type=int, default=40, help="counted runs per client")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10, help="runs per client before counting")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    counted: dict[str, list[float]] = {"A": [], "B": []}
    versions = {
        "A": (args.a, args.config_a.resolve(), dict(pair.split("=", 1) for pair in args.env_a)),
        "B": (args.b, args.config_b.resolve(), dict(pair.split("=", 1) for pair in args.env_b)),
    }
    for round_number in range(1, args.rounds + 1):
        for name in ("A", "B", "B", "A"):
            root, config, env = versions[name]
            per_run = instructions_per_run(root, config, env, args.runs, args.clients, args.warmup)
            counted[name].append(per_run)
            print(f"round {round_number} {name}: {per_run / 1e6:.3f} M instructions per run", flush=True)
    a, b = statistics.mean(counted["A"]), statistics.mean(counted["B"])
    spread = {name: (min(v) / 1e6, max(v) / 1e6) for name, v in counted.items()}
    print(f"A {a / 1e6:.3f} M per run (range {spread['A'][0]:.3f}-{spread['A'][1]:.3f}); "
          f"B {b / 1e6:.3f} M (range {spread['B'][0]:.3f}-{spread['B'][1]:.3f}); B/A {b / a:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
