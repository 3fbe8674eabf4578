"""Starting the app under Granian, in this process (exec), the way `aegra dev|serve` do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_FACTORY = "aegra.server.app:create_app"
# Writes to the SQLite file (and its WAL) must not look like code changes to the reloader.
RELOAD_IGNORE_PATTERNS = [r".*\.db(-wal|-shm|-journal)?$", r".*\.sqlite3?(-wal|-shm|-journal)?$", r"__pycache__"]


def granian_argv(
    *, host: str, port: int, workers: int = 1, reload: bool = False, watch: Path | None = None, log_level: str = "info"
) -> list[str]:
    argv = [
        sys.executable, "-m", "granian",
        "--interface", "asgi",
        # asyncio's own loop, not uvloop/rloop (Granian's `auto` takes them when installed): the
        # SQLite group commit waits for its ready queue to drain (db/group_commit.py), which
        # other loops do not show; without it, a busy server spends ~20% more CPU per run.
        "--loop", "asyncio",
        "--factory", APP_FACTORY,
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--log-level", log_level.lower(),
    ]  # fmt: skip
    if reload:
        argv += ["--reload"]
        if watch is not None:
            argv += ["--reload-paths", str(watch)]
        for pattern in RELOAD_IGNORE_PATTERNS:
            argv += ["--reload-ignore-patterns", pattern]
    return argv


def exec_granian(argv: list[str], env: dict[str, str]) -> None:
    """Replace this process with Granian, so signals (Ctrl-C, SIGTERM) reach it directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
