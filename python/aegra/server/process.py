"""The server's main process, which `aegra dev` and `aegra serve` exec: Granian, through its Python
API, for what its command line cannot do:

- The app is imported by its module name (`aegra.server.app`). Granian's own loader takes the
  target for a path below the working directory, and in a folder that holds an `__init__.py`
  looks for `<folder>.aegra.server.app`.
- `aegra dev` reloads on changes to the graphs' sources, the config and `.env` only (the rules
  come from the CLI, aegra/cli/reload.py; the filter is reload_filter.py), and a worker that fails
  to start during a reload (a config file saved half-edited) waits for the next save instead of
  ending the server.
- `aegra dev` downloads a missing embedding model in the background (`--fetch-model`), in a
  process of its own (aegra/local_models/__main__.py), ended with the server.
- Prometheus metrics of several workers: PROMETHEUS_MULTIPROC_DIR is made ready here, before the
  workers are forked (aegra/telemetry/exposition.py), and `--metrics-port` serves `/metrics` from
  this process, over every worker's values.
- A terminal's Ctrl-C reaches every process of the group. Only this process acts on it: it stops
  the workers with SIGTERM, so none ends on its own first, which Granian reports as
  "Unexpected exit from worker-1" (see `_worker_signals`).

Run as `python -m aegra.server.process --host H --port P [--workers N] [--reload ...]`;
`aegra.cli.granian.granian_argv` builds that command line. This process imports Granian and this
module only: the app is imported by the workers.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path


def _worker_signals() -> None:
    """Run in each worker right after the fork, before any of its code.

    SIGINT is blocked for good: a Ctrl-C is this process's to handle (the worker keeps it
    pending and never sees it). SIGTERM gets its default action back until Granian installs
    the worker's own handler: the handler inherited from this process only sets flags of this
    process's copy, so a stop requested while the worker imports the app would be lost, and the
    main process would wait for the worker forever (a Ctrl-C during a reload did nothing).
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="aegra-server", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--reload", action="store_true", help="restart the workers when the sources change")
    parser.add_argument("--watch-file", type=Path, action="append", default=[], help="a file to watch")
    parser.add_argument("--watch-sources", type=Path, action="append", default=[], help="a folder of .py files")
    parser.add_argument("--metrics-port", type=int, help="serve /metrics on this port too (from this process)")
    parser.add_argument("--fetch-model", help="a fastembed model to download in the background if missing")
    args = parser.parse_args(argv)

    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    from aegra.server.warm_start import warming_app
    from aegra.telemetry import exposition

    # Before anything imports prometheus_client: the workers inherit it and count in files there.
    metrics_directory, owned = exposition.prepare_directory()
    if args.metrics_port:  # also before Granian's Server is made: it takes the workers' environment then
        exposition.announce_port(args.metrics_port)

    reload_options = {}
    if args.reload:
        from aegra.server.reload_filter import sources_filter, watched_folders

        reload_options = {
            "reload": True,
            "reload_paths": watched_folders(args.watch_file, args.watch_sources) or [Path.cwd()],
            "reload_filter": sources_filter(args.watch_file, args.watch_sources),
            "reload_ignore_worker_failure": True,
        }
    server = Server(
        "aegra.server.app:create_app",  # a label: `warming_app` below imports the app
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        # asyncio's own loop, not uvloop/rloop (Granian's `auto` takes them when installed): the
        # SQLite group commit waits for its ready queue to drain (db/group_commit.py), which
        # other loops do not show; without it, a busy server spends ~20% more CPU per run.
        loop=Loops.asyncio,
        log_level=LogLevels(args.log_level.lower()),
        log_dictconfig=_granian_log_config(),
        **reload_options,  # type: ignore[arg-type]
    )
    if owned:
        server.on_shutdown(partial(exposition.remove_directory, metrics_directory))
    if args.metrics_port:
        server.on_startup(partial(exposition.serve_port, args.host, args.metrics_port))
    if args.fetch_model:
        fetcher = subprocess.Popen([sys.executable, "-m", "aegra.local_models", args.fetch_model])
        server.on_shutdown(partial(_stop, fetcher))
    os.register_at_fork(after_in_child=_worker_signals)
    server.serve(target_loader=partial(warming_app, dev=args.reload), wrap_loader=False)


def _granian_log_config() -> dict[str, object] | None:
    """Granian's own lines (workers started, stopped...) in the server's format: JSON with
    LOG_FORMAT=json, so that every line of the output parses."""
    if os.environ.get("LOG_FORMAT", "").lower() != "json":
        return None
    json_formatter = {"()": "aegra.telemetry.logs.JsonFormatter"}
    return {"formatters": {"generic": json_formatter, "access": json_formatter}}


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the background download with the server (it resumes where it stopped next time)."""
    if process.poll() is None:
        process.terminate()
    process.wait()


if __name__ == "__main__":
    main()
