"""The official server (`langgraph dev`, in-memory), installed in a venv of its own and run on 127.0.0.1.

Its pins (official-requirements.txt) never touch the test environment's packages: the venv is
separate (no --system-site-packages) and named after the hash of the requirements file, so a
changed pin builds a new one. `scripts/test.sh` builds it before pytest (`python -m
tests.compat.official`); the fixture builds it too when it is missing, so plain `pytest` works.
It needs nothing from the internet at runtime: tracing, analytics and the Studio browser are off.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.server import RunningServer, stop, wait_until_ready

REQUIREMENTS = Path(__file__).with_name("official-requirements.txt")

# Everything that could reach the internet from `langgraph dev`, turned off.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LANGCHAIN_CALLBACKS_BACKGROUND": "false",
    "LANGGRAPH_NO_TELEMETRY": "1",
}
# Keys of the developer's environment that would point the official server elsewhere.
SCRUBBED_ENV = (
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_ENDPOINT",
    "LANGGRAPH_AUTH",
    "DATABASE_URI",
    "REDIS_URI",
    "LANGSERVE_GRAPHS",
    "LANGGRAPH_STORE",
    "LANGGRAPH_HTTP",
)


def venv_path() -> Path:
    given = os.environ.get("AEGRA_OFFICIAL_VENV")
    if given:
        return Path(given)
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aegra" / f"official-{digest}"


def ensure_venv() -> Path:
    """The official server's venv, built from the pinned requirements if it is not there yet.

    A lock file keeps two test processes from building it at once; `.ready` marks a finished build
    (an interrupted one is rebuilt from scratch).
    """
    venv = venv_path()
    ready = venv / ".ready"
    if ready.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return venv
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
        ready.write_text(REQUIREMENTS.read_text())
    return venv


def langgraph_json(graphs: Mapping[str, str], dependencies: list[str]) -> dict[str, object]:
    return {"dependencies": dependencies, "graphs": dict(graphs)}


@contextmanager
def official_server(
    workdir: Path, config: Mapping[str, object], *, jobs: int = 10, startup_timeout: float = 90.0
) -> Iterator[RunningServer]:
    """`langgraph dev --no-browser --no-reload` on a free port of 127.0.0.1, serving `config`
    (a langgraph.json) from `workdir` (where it keeps its in-memory state's snapshots)."""
    venv = ensure_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "langgraph.json").write_text(json.dumps(config, indent=2))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV and not k.startswith("VIRTUAL_ENV")}
    env.update(OFFLINE_ENV)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    argv = [
        str(venv / "bin" / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n-jobs-per-worker",
        str(jobs),
        "--config",
        "langgraph.json",
    ]
    log_path = workdir / f"official-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = RunningServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        wait_until_ready(server, startup_timeout)
        yield server
    finally:
        with contextlib.suppress(Exception):
            stop(process)


if __name__ == "__main__":
    print(ensure_venv())
