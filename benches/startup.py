"""How long `aegra dev` / `aegra serve` take from the command to the first `/ok`, on a fresh project.

    git worktree add /tmp/base main && cp python/aegra/_vec.abi3.so /tmp/base/python/aegra/
    python benches/startup.py --a /tmp/base --b . --rounds 4
    python benches/startup.py --b . --rounds 3 --project chatbot   # `aegra init --sqlite`'s project

Each measurement starts the real console entry point (`python -m aegra.cli.main dev|serve`) in a
new temporary folder holding the project, polls `GET /ok` every few milliseconds, records the
time of the first 200, and stops the whole process group. `dev` is measured with its reloader on,
as a user runs it. The machine is shared and its speed drifts (benches/README.md), so with two
versions each round runs A B B A and the summary gives each side's median and range.

A version is a checkout's root: its `python/` folder goes first on PYTHONPATH (a worktree needs
the Rust extension there too: built, or copied from a checkout that has it).

Projects: `empty` is an aegra.json with no graphs; `chatbot` is what `aegra init --sqlite` writes
(one graph, a fastembed store index), with `.env` copied from `.env.example`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

# The tests' helpers live in the repository's root (as for runs_ab.py).
sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.support.server import stop_group

POLL_SECONDS = 0.005


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_project(folder: Path, kind: str, env: dict[str, str]) -> None:
    if kind == "empty":
        (folder / "aegra.json").write_text('{"graphs": {}}\n')
        return
    subprocess.run(
        [sys.executable, "-m", "aegra.cli.main", "init", "--sqlite"],
        cwd=folder, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    (folder / ".env").write_text((folder / ".env.example").read_text())


def session_cpu_seconds(session_id: int) -> float:
    """The CPU time (user + system) of every process of a session, and of the children they reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[3]) == session_id:  # field 6 of stat: the session id
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def time_to_first_ok(root: Path, command: str, kind: str, timeout: float = 60.0) -> tuple[float, float]:
    """Wall-clock seconds to the first `/ok`, and the CPU seconds the server's processes used by then."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as logs:
        folder = Path(tmp)
        env = {
            # Without PYTHONDONTWRITEBYTECODE: a user's installed package has its bytecode cached, so
            # the warm-up run writes it and the timed ones read it.
            **{
                k: v
                for k, v in os.environ.items()
                if k not in ("AEGRA_CONFIG", "DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
            },
            "PYTHONPATH": str(root.resolve() / "python"),
            # Offline, as on this machine: a model download must not be what is timed.
            "HF_HUB_OFFLINE": "1",
        }
        write_project(folder, kind, env)
        port = free_port()
        argv = [sys.executable, "-m", "aegra.cli.main", command, "--host", "127.0.0.1", "--port", str(port)]
        log = Path(logs) / "server.log"  # outside the project, where `aegra dev` might reload on it
        url = f"http://127.0.0.1:{port}/ok"
        with log.open("wb") as out, httpx.Client(timeout=1.0) as http:
            started = time.perf_counter()
            process = subprocess.Popen(
                argv, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                while time.perf_counter() - started < timeout:
                    if process.poll() is not None:
                        raise RuntimeError(f"{command} exited with {process.returncode}:\n{log.read_text()}")
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get(url).status_code == 200:
                            return time.perf_counter() - started, session_cpu_seconds(process.pid)
                    time.sleep(POLL_SECONDS)
                raise RuntimeError(f"no /ok after {timeout} s:\n{log.read_text()}")
            finally:
                stop_group(process)


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s, range {min(values):.2f}-{max(values):.2f} s "
        f"({', '.join(f'{v:.2f}' for v in values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, help="version A: a checkout's root (optional)")
    parser.add_argument("--b", type=Path, default=Path("."), help="version B: a checkout's root")
    parser.add_argument("--rounds", type=int, default=3, help="each round runs A B B A (or B twice)")
    parser.add_argument("--command", choices=["dev", "serve", "both"], default="both")
    parser.add_argument("--project", choices=["empty", "chatbot"], default="empty")
    args = parser.parse_args()
    commands = ["dev", "serve"] if args.command == "both" else [args.command]
    order = ["A", "B", "B", "A"] if args.a else ["B", "B"]
    roots = {"A": args.a, "B": args.b}
    for side in sorted(set(order)):
        time_to_first_ok(roots[side], "serve", args.project)  # warm-up: writes the bytecode caches
    for command in commands:
        times: dict[str, list[float]] = {"A": [], "B": []}
        cpu: dict[str, list[float]] = {"A": [], "B": []}
        for round_number in range(1, args.rounds + 1):
            line = []
            for side in order:
                seconds, cpu_seconds = time_to_first_ok(roots[side], command, args.project)
                times[side].append(seconds)
                cpu[side].append(cpu_seconds)
                line.append(f"{side} {seconds:.2f} ({cpu_seconds:.2f} CPU)")
            print(f"aegra {command}, round {round_number}: {'  '.join(line)} s", flush=True)
        for side in ("A", "B"):
            if times[side]:
                print(f"aegra {command} {side} ({roots[side]}): wall {summary(times[side])}")
                print(f"aegra {command} {side} ({roots[side]}): CPU  {summary(cpu[side])}")
        if times["A"]:
            ratio = statistics.median(times["B"]) / statistics.median(times["A"])
            print(f"aegra {command} B/A wall medians: {ratio:.2f}")


if __name__ == "__main__":
    main()
