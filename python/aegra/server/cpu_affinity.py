"""Keeping a worker's threads on one CPU core (`AEGRA_PIN_CPU=true`; off by default).

A worker's Python threads take turns holding the GIL: the event loop's, Granian's thread that
hands requests over, and the pool that runs graphs' sync nodes. A hand-over between threads on
two cores moves what both touch (the loop, futures, the request's objects) from one core's cache
to the other's; on one core it is a plain context switch. Measured with benches/runs_load.py
(16 clients, one worker on SQLite, 2 cores), the worker spent about 12% less CPU per run pinned.

Why it is not the default:
- native work that runs outside the GIL in the worker's threads (a local embedding model's
  threads, long reads on the store's aiosqlite thread) gets that one core too;
- the kernel can no longer move the worker: two servers on one machine may share a core while
  another idles.

Worker `i` of a Granian master takes the `i`-th core (round robin) of those the process may use.
Linux only; elsewhere the setting is ignored with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def pin_to_one_core() -> int | None:
    """Pin every thread of this process (and so the threads they start later) to one core."""
    if not hasattr(os, "sched_setaffinity"):
        logger.warning("AEGRA_PIN_CPU: this platform cannot pin threads to a core; ignored")
        return None
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[_worker_index() % len(allowed)]
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), {cpu})
    logger.info("worker %d pinned to CPU %d", os.getpid(), cpu)
    return cpu


def _worker_index() -> int:
    """This process's place among its parent's children (Granian's workers, in start order)."""
    parent = os.getppid()
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return 0
    pids = sorted(int(pid) for pid in children)
    return pids.index(os.getpid()) if os.getpid() in pids else 0
