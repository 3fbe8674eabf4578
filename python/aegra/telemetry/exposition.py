"""`/metrics`: the text the Prometheus server scrapes, from one process or from all of a server's.

The server's main process (aegra/server/process.py) calls `prepare_directory()` before Granian
forks the workers: PROMETHEUS_MULTIPROC_DIR is then set in every worker before it imports
prometheus_client, and each worker's values are in files there (prometheus_client's
multiprocess mode). A scrape, answered by whichever worker Granian hands it to or by the main
process (`--metrics-port`), adds up every worker's files (`MultiProcessCollector`) and reads each
live worker's CPU, memory and open files from /proc (the client's `ProcessCollector`, one per
process, labelled with its pid). Without the directory (the app run in-process, as tests do),
the process's own registry is exported.

Imports prometheus_client only inside functions: the main process sets the directory first.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Set by the main process for its workers when it serves `--metrics-port` (domain/runs/pending_gauge.py).
SEPARATE_PORT_ENV = "AEGRA_METRICS_PORT"
_PID_IN_NAME = re.compile(r"_(\d+)\.db$")


def prepare_directory() -> tuple[Path, bool]:
    """Make PROMETHEUS_MULTIPROC_DIR ready for a new server: an operator's directory is emptied
    (values of an earlier server would be added to this one's), else a new one is made. Returns
    it, and whether it is ours to remove at shutdown."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
        return directory, False
    directory = Path(tempfile.mkdtemp(prefix="aegra-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory, True


def remove_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def multiprocess_directory() -> Path | None:
    given = os.environ.get(MULTIPROC_ENV)
    return Path(given) if given else None


_registry: CollectorRegistry | None = None


def registry() -> CollectorRegistry:
    """What a scrape exports (built once; its collectors read the files at each scrape)."""
    global _registry
    if _registry is None:
        from prometheus_client import REGISTRY, CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        directory = multiprocess_directory()
        if directory is None:
            _registry = REGISTRY
        else:
            _registry = CollectorRegistry()
            # First: it drops the gauges of exited workers before the sum is made.
            _registry.register(_LiveProcesses(directory))
            MultiProcessCollector(_registry, path=str(directory))
    return _registry


def latest() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry()), CONTENT_TYPE_LATEST


def announce_port(port: int) -> None:
    """Before the workers start: they keep the figures only they can make fresh for that port."""
    os.environ[SEPARATE_PORT_ENV] = str(port)


def separate_port() -> bool:
    return bool(os.environ.get(SEPARATE_PORT_ENV))


def serve_port(host: str, port: int) -> None:
    """Serve `/metrics` on a port of its own, from a thread of this process (the main process)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry())


def _alive(pid: int) -> bool:
    """Running (not exited, nor exited and not yet reaped by Granian: a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


class _LiveProcesses:
    """The process collector of each live server process, with a `pid` label; and the gauge files
    of workers that exited are dropped, so that `livesum` gauges count live workers only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _pids(self) -> list[int]:
        from prometheus_client.multiprocess import mark_process_dead

        pids = {int(m.group(1)) for p in self.directory.glob("*.db") if (m := _PID_IN_NAME.search(p.name))}
        live = []
        for pid in sorted(pids):
            if _alive(pid):
                live.append(pid)
            else:
                mark_process_dead(pid, str(self.directory))
        main = os.getpid() if os.getpid() not in pids else os.getppid()
        return sorted({*live, main})

    def collect(self) -> Iterable[Metric]:
        from prometheus_client import ProcessCollector
        from prometheus_client.metrics_core import Metric

        merged: dict[str, Metric] = {}
        for pid in self._pids():
            collector = ProcessCollector(pid=_constant(pid), registry=None)
            for family in collector.collect():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(family.name, family.documentation, family.type)
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        return list(merged.values())


def _constant(value: Any) -> Any:
    return lambda: value
