"""How long `aegra dev` / `aegra serve` take from the command to the first `/ok`, on a fresh project.

    git worktree add /tmp/base main && cp python/aegra/_vec.abi3.so /tmp/base/python/aegra/
    python benches/startup.py --a /tmp/base --b . --rounds 4
    python benches/startup.py --b . --rounds 3 --project chatbot   # `aegra init --sqlite`'s project
    python benches/startup.py --b . --cmd floor='{python} {repo}/benches/startup_floor.py --port {port}'

Each measurement starts the real console entry point (`python -m aegra.cli.main dev|serve`) in a
new temporary folder holding the project, polls `GET /ok` every few milliseconds, records the
time of the first 200, then (for Aegra) sends `POST /assistants/search` at once and records when it
is answered (the app behind `/ok` may still be loading: that request waits for it), and stops
the whole process group. `dev` is measured with its reloader on,
as a user runs it. The machine is shared and its speed drifts (benches/README.md), so with two
versions each round runs A B B A and the summary gives each side's median and range.

A version is a checkout's root: its `python/` folder goes first on PYTHONPATH (a worktree needs
the Rust extension there too: built, or copied from a checkout that has it).

`--cmd LABEL=COMMAND` times any other command the same way (its first `/ok` only), e.g. the floor
under Aegra: Granian serving a bare Litestar app, or a bare ASGI function (benches/startup_floor.py).

Projects: `empty` is an aegra.json with no graphs; `chatbot` is what `aegra init --sqlite` writes
(one graph, a fastembed store index), with `.env` copied from `.env.example`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# The tests' helpers live in the repository's root (as for runs_ab.py).
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.server import stop_group  # noqa: E402

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


@dataclass(frozen=True)
class Side:
    label: str
    root: Path | None  # a checkout: `python -m aegra.cli.main <command>` with its python/ on PYTHONPATH
    template: str | None  # or any command line ({port}, {python}, {repo} are filled in)

    def argv(self, command: str, port: int) -> list[str]:
        if self.template is None:
            return [sys.executable, "-m", "aegra.cli.main", command, "--host", "127.0.0.1", "--port", str(port)]
        filled = self.template.format(port=port, python=sys.executable, repo=REPO)
        return shlex.split(filled)


def time_to_first_ok(side: Side, command: str, kind: str, timeout: float = 60.0) -> tuple[float, float, float | None]:
    """Wall-clock seconds to the first `/ok`, the CPU seconds the server's processes used by then, and
    (for Aegra) the seconds to the first answered `POST /assistants/search`, sent right after."""
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
            # Offline, as on this machine: a model download must not be what is timed.
            "HF_HUB_OFFLINE": "1",
        }
        if side.root is not None:
            env["PYTHONPATH"] = str(side.root.resolve() / "python")
        write_project(folder, kind, env)
        port = free_port()
        log = Path(logs) / "server.log"  # outside the project, where `aegra dev` might reload on it
        base = f"http://127.0.0.1:{port}"
        with log.open("wb") as out, httpx.Client(timeout=30.0) as http:
            started = time.perf_counter()
            process = subprocess.Popen(
                side.argv(command, port), cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                while time.perf_counter() - started < timeout:
                    if process.poll() is not None:
                        raise RuntimeError(f"{side.label} exited with {process.returncode}:\n{log.read_text()}")
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get(f"{base}/ok", timeout=1.0).status_code == 200:
                            ok = time.perf_counter() - started
                            cpu = session_cpu_seconds(process.pid)
                            ready = None
                            if side.template is None:  # Aegra: a request that needs the whole app
                                answer = http.post(f"{base}/assistants/search", json={"limit": 1})
                                answer.raise_for_status()
                                ready = time.perf_counter() - started
                            return ok, cpu, ready
                    time.sleep(POLL_SECONDS)
                raise RuntimeError(f"no /ok after {timeout} s:\n{log.read_text()}")
            finally:
                stop_group(process)


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.2f} s, range {min(values):.2f}-{max(values):.2f} s "
        f"({', '.join(f'{v:.2f}' for v in values)})"
    )


def parse_sides(args: argparse.Namespace) -> list[Side]:
    sides = [Side("A", args.a, None)] if args.a else []
    if args.b and (args.a or not args.cmd):
        sides.append(Side("B", args.b, None))
    for spec in args.cmd:
        label, _, template = spec.partition("=")
        if not template:
            raise SystemExit(f"--cmd takes LABEL=COMMAND, not {spec!r}")
        sides.append(Side(label, None, template))
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, help="version A: a checkout's root (optional)")
    parser.add_argument("--b", type=Path, default=Path("."), help="version B: a checkout's root")
    parser.add_argument(
        "--cmd", action="append", default=[], metavar="LABEL=COMMAND",
        help="another command to time, run in the project's folder: {port}, {python} and {repo} are filled in "
        "(with --a, or alone; repeatable)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="each round runs every side forward then back")
    parser.add_argument("--command", choices=["dev", "serve", "both"], default="both")
    parser.add_argument("--project", choices=["empty", "chatbot"], default="empty")
    args = parser.parse_args()
    commands = ["dev", "serve"] if args.command == "both" else [args.command]
    sides = parse_sides(args)
    order = [*sides, *reversed(sides)]  # A B B A: drift weighs on each side alike
    for side in sides:
        time_to_first_ok(side, "serve", args.project)  # warm-up: writes the bytecode caches
    for command in commands if any(side.template is None for side in sides) else ["serve"]:
        times: dict[str, list[float]] = {side.label: [] for side in sides}
        cpu: dict[str, list[float]] = {side.label: [] for side in sides}
        ready: dict[str, list[float]] = {side.label: [] for side in sides}
        for round_number in range(1, args.rounds + 1):
            line = []
            for side in order:
                seconds, cpu_seconds, ready_seconds = time_to_first_ok(side, command, args.project)
                times[side.label].append(seconds)
                cpu[side.label].append(cpu_seconds)
                shown = f"{side.label} {seconds:.2f} ({cpu_seconds:.2f} CPU"
                if ready_seconds is not None:
                    ready[side.label].append(ready_seconds)
                    shown += f", search {ready_seconds:.2f}"
                line.append(shown + ")")
            print(f"{command}, round {round_number}: {'  '.join(line)} s", flush=True)
        for side in sides:
            name = side.template or str(side.root)
            print(f"{command} {side.label} ({name}): first /ok {summary(times[side.label])}")
            print(f"{command} {side.label}: CPU by then {summary(cpu[side.label])}")
            if ready[side.label]:
                print(f"{command} {side.label}: first assistants search answered {summary(ready[side.label])}")


if __name__ == "__main__":
    main()
