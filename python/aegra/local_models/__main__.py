"""`python -m aegra.local_models MODEL`: what `aegra dev` runs in the background at startup.

Downloads the fastembed model MODEL unless it is cached, printing progress lines into the
server's log, so that the first store write does not wait for the download. It runs in a process
of its own (started by aegra/server/process.py, at a lower priority than the server): the
server's workers are forked, and forking a process in which a download thread holds locks is
how children deadlock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from aegra.local_models.cache import ModelUnavailableError, cache_dir, describe, download, is_cached
from aegra.local_models.progress import LoggedProgress


def fetch_in_background(name: str) -> int:
    """Download `name` unless cached; the exit code (1 when it cannot be had)."""
    try:
        if is_cached(name):
            return 0
        size = describe(name).size_mb
        print(
            f"[INFO] store.index: the embedding model {name} is not cached: downloading it (~{size:.0f} MB) "
            f"into {cache_dir()}, in the background",
            flush=True,
        )
        progress = LoggedProgress.named(f"store.index: {name}", expected_bytes=int(size * 1_000_000))
        folder = download(name, progress=progress)
    except ModelUnavailableError as exc:
        print(f"[WARNING] store.index: {exc}", flush=True)
        return 1
    size = sum(file.stat().st_size for file in folder.rglob("*") if file.is_file()) / 1_000_000
    print(f"[INFO] store.index: the embedding model {name} is ready ({size:.1f} MB in {folder})", flush=True)
    return 0


def main() -> int:
    # Behind the server: its workers come first for the CPU.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    # A terminal's Ctrl-C reaches this process too; the server ends it (SIGTERM) as it stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return fetch_in_background(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
