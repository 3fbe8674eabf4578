"""One route under wrk: requests per second and the server's CPU per request.

    aegra serve --port 2026 &
    python benches/route_load.py --url http://127.0.0.1:2026 --server-pid "$(pgrep -o -f 'server.process.*2026')"

The route is `GET /threads/{id}` of a thread that has been run once (values, metadata, config as a
real thread has them); `runs_ab.py --workload thread-get` alternates two versions on it. wrk
(Debian's `wrk` package) makes the load, so the load generator costs the server's two cores as
little as it can; the CPU counted is the server's alone (Granian and its workers).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess

import httpx
from runs_load import cpu_seconds


def prepared_thread(url: str) -> str:
    """A thread with a run behind it (the `echo` graph of benches/graphs)."""
    with httpx.Client(base_url=url, timeout=60) as http:
        thread = http.post("/threads", json={"metadata": {"owner": "bench", "topic": "load"}}).json()["thread_id"]
        run = http.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "echo", "input": {"messages": []}})
        run.raise_for_status()
        return str(thread)


def wrk_load(url: str, path: str, server_pid: int, seconds: float, connections: int) -> tuple[float, float]:
    """The server's CPU per request (ms) and the requests per second, over `seconds` of wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    argv = [wrk, f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds:g}s", f"{url}{path}"]
    before = cpu_seconds(server_pid)
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(server_pid) - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in output:
        raise SystemExit(f"the route answered errors:\n{output}")
    return cpu / requests * 1000, rate


def thread_get_load(url: str, server_pid: int, seconds: float, connections: int) -> tuple[float, float]:
    return wrk_load(url, f"/threads/{prepared_thread(url)}", server_pid, seconds, connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--server-pid", type=int, required=True, help="Granian's main process")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    ms, rate = thread_get_load(args.url, args.server_pid, args.seconds, args.connections)
    print(f"GET /threads/{{id}}: {rate:.0f} req/s, {ms:.3f} ms server CPU per request")


if __name__ == "__main__":
    main()
