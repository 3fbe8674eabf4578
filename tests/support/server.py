"""A real Aegra server under Granian in a subprocess, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aegra.cli.granian import granian_argv
from tests.support.postgres import database_for, free_port


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the server and its workers, as a crash would: no shutdown code runs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def granian_server(
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    workers: int = 1,
    startup_timeout: float = 60.0,
    metrics_port: int | None = None,
) -> Iterator[RunningServer]:
    """Start Granian with the app factory, as `aegra serve` does, in `cwd`; stop it on exit."""
    port = free_port()
    log_path = cwd / f"granian-{port}.log"
    full_env = {**os.environ, **(env or {})}
    # As `aegra serve` starts it.
    argv = granian_argv(host="127.0.0.1", port=port, workers=workers, metrics_port=metrics_port)
    with log_path.open("wb") as log:
        # A session of its own, so the whole group (Granian and its workers) can be signalled at once.
        process = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = RunningServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        wait_until_ready(server, startup_timeout)
        yield server
    finally:
        stop(process)


@contextmanager
def cli_server(argv: list[str], *, cwd: Path, logs: Path, env: Mapping[str, str]) -> Iterator[RunningServer]:
    """Run a command that starts a server (`argv` plus `--port <free>`) in a process group of its own,
    as a terminal runs a job, until the block ends; its output goes to a file in `logs`."""
    port = free_port()
    log_path = logs / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--port", str(port)],
            cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = RunningServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        wait_until_ready(server, timeout=120)
        yield server
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group (the server execs Granian, whose workers are its
    children), then SIGKILL if it is still there after 20 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_ready(server: RunningServer, timeout: float) -> None:
    """Until the app answers readiness (`/ok?check_db=1`): plain `/ok` answers as soon as the worker
    accepts, while the app may still be loading behind it (server/warm_start.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            remaining = max(1.0, deadline - time.monotonic())
            if httpx.get(f"{server.url}/ok", params={"check_db": "1"}, timeout=remaining).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout}s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # Workers left behind by a killed main process would keep the port and the database.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def serve_on_backend(request: Any, folder: Path, config: Path) -> Iterator[RunningServer]:
    """A server fixture's body: `config` served from `folder` on the backend the fixture's param names."""
    env = {"AEGRA_CONFIG": str(config), "DATABASE_URL": database_for(request, folder)}
    with granian_server(folder, env) as running:
        yield running
