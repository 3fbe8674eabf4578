"""Starting the server's main process (Granian, see aegra/server/process.py) in place of this one
(exec), the way `aegra dev|serve` do. Only its command line is built here: the CLI imports nothing
of the server."""

from __future__ import annotations

import os
import sys

from aegra.cli.reload import WatchRules

APP_FACTORY = "aegra.server.app:create_app"


def granian_argv(
    *,
    host: str,
    port: int,
    workers: int = 1,
    watch: WatchRules | None = None,
    fetch_model: str | None = None,
    log_level: str = "info",
    metrics_port: int | None = None,
) -> list[str]:
    """The server's command line. `watch`: reload when what it names changes; `fetch_model`: download
    that fastembed model in the background if it is not cached (both for `aegra dev`)."""
    argv = [
        sys.executable, "-m", "aegra.server.process",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--log-level", log_level.lower(),
    ]  # fmt: skip
    if watch is not None:
        argv += ["--reload", *watch.argv()]
    if metrics_port:
        argv += ["--metrics-port", str(metrics_port)]
    if fetch_model:
        argv += ["--fetch-model", fetch_model]
    return argv


def exec_granian(argv: list[str], env: dict[str, str]) -> None:
    """Replace this process with the server's, so signals (Ctrl-C, SIGTERM) reach it directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
