"""Timing helpers shared by the vector benchmarks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# What `measure` reads: wall time, or this thread's CPU time (`use_cpu_time`), which leaves out the
# time the thread waits for a core - on a machine shared with other jobs, most of the noise.
_clock = time.perf_counter


_evict: np.ndarray | None = None


def evict_caches_between_calls(megabytes: int = 1024) -> None:
    """Before each timed call, read `megabytes` of other memory (untimed): every contender then
    starts from DRAM, as a search does on a server whose last-level cache holds other work. Without
    it, on a CPU with a very large L3 the contender that ran last before another's turn (or that
    shares its data, as numpy and the floor do) finds part of its bytes cached."""
    global _evict
    _evict = np.ones(megabytes * 2**20 // 8, dtype=np.int64)


def _before_call() -> None:
    if _evict is not None:
        _evict.sum()


def use_cpu_time() -> None:
    global _clock
    _clock = time.thread_time


def clock_name() -> str:
    return "thread CPU time" if _clock is time.thread_time else "wall time"


def one_thread() -> None:
    """Pin BLAS and friends to one thread (call before importing numpy): targets are per core."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ.setdefault(name, "1")


@dataclass(frozen=True)
class Timing:
    name: str
    p50_ms: float
    p99_ms: float
    runs: int

    def row(self, floor_ms: float | None = None) -> str:
        ratio = f"{self.p50_ms / floor_ms:6.2f}x floor" if floor_ms else ""
        return f"{self.name:<52} p50 {self.p50_ms:9.2f} ms   p99 {self.p99_ms:9.2f} ms  (n={self.runs}) {ratio}"


def measure(name: str, call: Callable[[int], object], runs: int, warmup: int = 2) -> Timing:
    """Runs `call(i)` `runs` times after `warmup` calls; p99 is the nearest-rank percentile."""
    for i in range(warmup):
        call(i)
    times = []
    for i in range(runs):
        _before_call()
        start = _clock()
        call(i)
        times.append((_clock() - start) * 1000)
    ordered = np.sort(times)
    return Timing(
        name, float(np.median(ordered)), float(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]), runs
    )


def measure_interleaved(calls: dict[str, Callable[[int], object]], runs: int, warmup: int = 2) -> list[Timing]:
    """Like `measure`, but one call of each per round: on a shared machine, load that comes and
    goes then weighs on every contender alike instead of on whichever ran at the time."""
    for i in range(warmup):
        for call in calls.values():
            call(i)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(runs):
        for name, call in calls.items():
            _before_call()
            start = _clock()
            call(i)
            times[name].append((_clock() - start) * 1000)
    return [_timing(name, values) for name, values in times.items()]


def _timing(name: str, times: list[float]) -> Timing:
    ordered = np.sort(times)
    p99 = float(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))])
    return Timing(name, float(np.median(ordered)), p99, len(times))


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
