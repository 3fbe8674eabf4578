"""The queue's and leases' figures on /metrics (docs/operations.md), from real runs over PostgreSQL:
a host killed with -9 while its runs hold their leases, and another host that takes them over; a
host stopped with SIGTERM that hands its runs back; a host that loses its database under a
running run. Leases only run out with several processes
sharing PostgreSQL (on SQLite one process owns the file): these tests are PostgreSQL's alone."""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import ExitStack
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.e2e.test_multiprocess import (
    _runs_of,
    host_env,
    poll_until,
    runs_on_new_threads,
    start_host,
    until_terminal,
)
from tests.support.postgres import create_database, throwaway_cluster
from tests.support.scrape import Scrape, scrape

pytestmark = pytest.mark.postgres


async def test_runs_taken_over_from_a_killed_host_are_counted(postgres_server: str, tmp_path: Path) -> None:
    database_url, log = create_database(postgres_server), tmp_path / "steps.log"
    env = host_env(database_url, log, N_JOBS_PER_WORKER="5")
    with ExitStack() as stack:
        a = start_host(stack, tmp_path / "a", env, workers=1)
        created = await runs_on_new_threads(get_client(url=a.url), 3, steps=8, seconds=0.5)
        run_ids = {run_id for _, run_id in created}
        await poll_until(lambda: all(len(s) >= 3 for s in _runs_of(log, run_ids).values())
                         and len(_runs_of(log, run_ids)) == 3, "three steps of every run")  # fmt: skip
        on_a = scrape(a.url)
        assert on_a.value("aegra_run_lease_renewals_total", result="ok") >= 1  # every lease/3 = 1 s
        assert on_a.value("aegra_run_claims_total", kind="taken_over") == 0
        a.kill()  # its runs stay `running`, their leases held by a dead process
        b = start_host(stack, tmp_path / "b", env, workers=1)
        on_b = get_client(url=b.url)
        for thread_id, run_id in created:
            assert (await until_terminal(on_b, thread_id, run_id, 120))["status"] == "success"
        figures = scrape(b.url)
        assert figures.value("aegra_run_claims_total", kind="taken_over") == 3
        assert figures.value("aegra_runs_resumed_total", graph="steps") == 3
        assert figures.value("aegra_run_claim_duration_seconds_count") >= 3
        assert figures.value("aegra_run_lease_renewals_total", result="ok") >= 1
        assert figures.value("aegra_run_lease_renewals_total", result="failed") == 0
        assert figures.total("aegra_run_leases_lost_total") == 0 and figures.total("aegra_runs_given_back_total") == 0


async def test_runs_handed_back_at_sigterm_are_counted(postgres_server: str, tmp_path: Path) -> None:
    """A host stopped with SIGTERM gives its unfinished runs back (SHUTDOWN_GRACE_SECONDS) and
    counts them as it exits. No scrape can reach a process that has exited, so the figures are read
    from the host's metric files (an operator's PROMETHEUS_MULTIPROC_DIR outlives the server) the
    way its /metrics adds them up."""
    database_url, log = create_database(postgres_server), tmp_path / "steps.log"
    env = host_env(database_url, log, N_JOBS_PER_WORKER="10", SHUTDOWN_GRACE_SECONDS="0.5")
    files = tmp_path / "a-metrics"
    with ExitStack() as stack:
        a = start_host(stack, tmp_path / "a", {**env, "PROMETHEUS_MULTIPROC_DIR": str(files)}, workers=1)
        created = await runs_on_new_threads(get_client(url=a.url), 3, steps=6, seconds=0.5)
        run_ids = {run_id for _, run_id in created}
        await poll_until(lambda: len(_runs_of(log, run_ids)) == 3, "a step of every run")
        assert scrape(a.url).total("aegra_runs_given_back_total") == 0
        os.killpg(a.process.pid, signal.SIGTERM)
        a.process.wait(timeout=30)
        b = start_host(stack, tmp_path / "b", env, workers=1)
        on_b = get_client(url=b.url)
        for thread_id, run_id in created:
            assert (await until_terminal(on_b, thread_id, run_id, 60))["status"] == "success"
        assert scrape(b.url).value("aegra_run_claims_total", kind="taken_over") == 0  # handed back, not taken over
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(files))
    figures = Scrape(generate_latest(registry).decode())
    assert figures.value("aegra_runs_given_back_total", reason="handoff") == 3, figures.text
    assert figures.value("aegra_runs_given_back_total", reason="outage") == 0


async def test_losing_the_database_under_a_run_is_counted(tmp_path: Path) -> None:
    with throwaway_cluster() as cluster:
        database_url, log = create_database(cluster.url), tmp_path / "steps.log"
        env = host_env(database_url, log)
        with ExitStack() as stack:
            server = start_host(stack, tmp_path / "server", env, workers=1)
            client = get_client(url=server.url)
            [(thread_id, run_id)] = await runs_on_new_threads(client, 1, steps=10, seconds=0.3)
            await poll_until(lambda: len(_runs_of(log, {run_id}).get(run_id, [])) >= 2, "two steps")
            cluster.stop()
            await asyncio.sleep(2.5)  # leases are renewed every second (a third of RUN_LEASE_SECONDS)
            cluster.start()
            assert (await until_terminal(client, thread_id, run_id, 120))["status"] == "success"
            after = scrape(server.url)
        # Renewing failed while the database was away; the run was given back when its next
        # checkpoint could not be written, or (if giving back failed too) taken over after its lease.
        assert after.value("aegra_run_lease_renewals_total", result="failed") >= 1, after.text
        outage = after.value("aegra_runs_given_back_total", reason="outage")
        taken_over = after.value("aegra_run_claims_total", kind="taken_over")
        assert outage + taken_over >= 1, after.text
