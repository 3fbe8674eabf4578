"""Many processes sharing runs through PostgreSQL alone (docs/architecture.md, "On PostgreSQL").

Two hosts (two Granian servers with two workers each, as `aegra serve --workers 2` runs them)
against one database: a run created on one is streamed, joined, re-attached to and cancelled from
the other; background runs spread over the four workers with at most one active per thread; a
cron fires once per due time. Then the failures: kill -9 of a host while its runs are running
(another host resumes them after their lease, without executing a completed step again), a
SIGTERM (the runs are handed over), and the `worker` and `api` roles.

The `steps` test graph logs every step it executes (run, step, pid, start, end) to a file shared
by all the servers: that is what the tests count.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.e2e.test_crons import make_due
from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.postgres import create_database, throwaway_cluster
from tests.support.server import RunningServer, granian_server
from tests.support.streams import sse_frames

pytestmark = pytest.mark.postgres

TERMINAL = ("success", "error", "timeout", "interrupted")
LEASE_SECONDS = 3


@dataclass
class Step:
    run_id: str
    step: int
    pid: int
    started: float
    ended: float


def read_steps(log: Path) -> list[Step]:
    if not log.exists():
        return []
    steps = []
    for line in log.read_text().splitlines():
        run_id, step, pid, started, ended = line.split()
        steps.append(Step(run_id, int(step), int(pid), float(started), float(ended)))
    return steps


def worker_pids(server: RunningServer) -> set[int]:
    pid = server.process.pid
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def host_env(database_url: str, log: Path, **extra: str) -> dict[str, str]:
    return {
        "AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG),
        "DATABASE_URL": database_url,
        "AEGRA_TEST_STEP_LOG": str(log),
        "RUN_LEASE_SECONDS": str(LEASE_SECONDS),
        # Four processes and their pools on one test cluster.
        "DB_POOL_SIZE": "4",
        "DB_MAX_OVERFLOW": "2",
        **extra,
    }


def start_host(stack: ExitStack, folder: Path, env: dict[str, str], workers: int = 2) -> RunningServer:
    folder.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(granian_server(folder, env, workers=workers))


@pytest.fixture(scope="module")
def hosts(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, RunningServer, Path, str]]:
    """Hosts A and B, two workers each, on one database; the step log; the database's URL."""
    database_url = create_database(postgres_server)
    folder = tmp_path_factory.mktemp("hosts")
    log = folder / "steps.log"
    env = host_env(database_url, log, N_JOBS_PER_WORKER="2")
    with ExitStack() as stack:
        a = start_host(stack, folder / "a", env)
        b = start_host(stack, folder / "b", env)
        yield a, b, log, database_url


async def poll_until(predicate: Callable[[], Any], what: str, seconds: float = 60, every: float = 0.05) -> None:
    """Wait for `predicate()` (possibly awaitable) to be true: state that other processes change."""
    deadline = time.monotonic() + seconds
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"{what} not within {seconds}s"
        await asyncio.sleep(every)


async def until_terminal(client: LangGraphClient, thread_id: str, run_id: str, seconds: float = 60) -> dict:
    async def ended() -> bool:
        return (await client.runs.get(thread_id, run_id))["status"] in TERMINAL

    await poll_until(ended, f"the end of run {run_id}", seconds, every=0.1)
    return dict(await client.runs.get(thread_id, run_id))


async def raw_stream(url: str, thread_id: str, run_id: str, last_event_id: str = "0") -> list[dict[str, str]]:
    """The run's stream from after `last_event_id` (by default its first event: a join without the
    header streams only what comes from now on, as langgraph-api's)."""
    headers = {"Last-Event-ID": last_event_id}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        response = await http.get(f"/threads/{thread_id}/runs/{run_id}/stream", headers=headers)
        assert response.status_code == 200, response.text
        return sse_frames(response.text)


async def test_a_run_made_on_one_host_is_streamed_joined_and_replayed_on_the_other(hosts) -> None:
    a, b, log, _ = hosts
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = await on_a.threads.create()
    run = await on_a.runs.create(thread["thread_id"], "steps", input={"steps": 4, "seconds": 0.15},
                                 stream_mode=["values", "updates"])  # fmt: skip
    # Followed live from both hosts at once: the same events, in order, none lost or repeated.
    from_a, from_b = await asyncio.gather(
        raw_stream(a.url, thread["thread_id"], run["run_id"]), raw_stream(b.url, thread["thread_id"], run["run_id"])
    )
    assert from_a == from_b
    ids = [int(frame["id"]) for frame in from_b]
    assert ids == list(range(1, len(ids) + 1)), ids
    assert [frame["event"] for frame in from_b].count("values") == 5  # the input, then four steps
    # Re-attached on the other host after an event: the rest, exactly.
    cut = from_b[2]["id"]
    assert await raw_stream(b.url, thread["thread_id"], run["run_id"], last_event_id=cut) == from_b[3:]
    assert await raw_stream(a.url, thread["thread_id"], run["run_id"], last_event_id=cut) == from_b[3:]
    # join and wait from the other host answer the run's outcome.
    assert (await on_b.runs.join(thread["thread_id"], run["run_id"]))["done"] == 4
    other = await on_a.threads.create()
    waited = await on_b.runs.wait(other["thread_id"], "steps", input={"steps": 1, "seconds": 0.05})
    assert waited["done"] == 1
    assert len([s for s in read_steps(log) if s.run_id == run["run_id"]]) == 4


async def test_a_cancel_from_the_other_host_stops_the_run(hosts) -> None:
    a, b, log, _ = hosts
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = await on_a.threads.create()
    run = await on_a.runs.create(thread["thread_id"], "steps", input={"steps": 50, "seconds": 0.1})
    await poll_until(lambda: [s for s in read_steps(log) if s.run_id == run["run_id"]], "the run's first step")
    pids = {s.pid for s in read_steps(log) if s.run_id == run["run_id"]}
    cancelled_at = time.time()
    await on_b.runs.cancel(thread["thread_id"], run["run_id"])
    ended = await until_terminal(on_b, thread["thread_id"], run["run_id"])
    assert ended["status"] == "interrupted"
    after = [s for s in read_steps(log) if s.run_id == run["run_id"] and s.started > cancelled_at + 0.5]
    assert not after, "the run went on after the cancel"
    assert len(pids) == 1


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_multitask_strategies_hold_across_hosts(hosts, strategy: str) -> None:
    """A run on a thread busy on the other host interrupts (or rolls back) the run there."""
    a, b, log, _ = hosts
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = await on_a.threads.create()
    first = await on_a.runs.create(thread["thread_id"], "steps", input={"steps": 50, "seconds": 0.1})
    await poll_until(lambda: [s for s in read_steps(log) if s.run_id == first["run_id"]], "the first run's steps")
    second = await on_b.runs.create(thread["thread_id"], "steps", input={"steps": 1, "seconds": 0.05},
                                    multitask_strategy=strategy)  # fmt: skip
    assert (await until_terminal(on_b, thread["thread_id"], second["run_id"]))["status"] == "success"
    if strategy == "interrupt":
        assert (await on_a.runs.get(thread["thread_id"], first["run_id"]))["status"] == "interrupted"
    else:
        with pytest.raises(NotFoundError):
            await on_a.runs.get(thread["thread_id"], first["run_id"])
    with pytest.raises(ConflictError):  # `reject` on a busy thread, whichever host is asked
        busy = await on_a.runs.create(thread["thread_id"], "steps", input={"steps": 30, "seconds": 0.1})
        await poll_until(lambda: [s for s in read_steps(log) if s.run_id == busy["run_id"]], "the busy run's steps")
        await on_b.runs.create(thread["thread_id"], "steps", input={}, multitask_strategy="reject")
    await on_b.runs.cancel(thread["thread_id"], busy["run_id"], wait=True)


async def test_background_runs_spread_over_every_worker_one_per_thread(hosts) -> None:
    a, b, log, _ = hosts
    on_a = get_client(url=a.url)
    threads = [(await on_a.threads.create())["thread_id"] for _ in range(10)]
    created = []
    for _ in range(5):
        for thread_id in threads:
            run = await on_a.runs.create(thread_id, "steps", input={"steps": 1, "seconds": 0.1},
                                         multitask_strategy="enqueue")  # fmt: skip
            created.append((thread_id, run["run_id"]))
    for thread_id, run_id in created:
        assert (await until_terminal(on_a, thread_id, run_id, 120))["status"] == "success"
    run_ids = {run_id for _, run_id in created}
    executions = collections.Counter(s.run_id for s in read_steps(log) if s.run_id in run_ids)
    assert executions == dict.fromkeys(run_ids, 1), "every run executed, and once"
    ran = {s.run_id: s for s in read_steps(log)}
    # All four workers took runs (each has two slots, and ten threads have work).
    assert {ran[run_id].pid for _, run_id in created} == worker_pids(a) | worker_pids(b)
    # One active run per thread, across the hosts.
    for thread_id in threads:
        spans = sorted((ran[run_id].started, ran[run_id].ended) for t, run_id in created if t == thread_id)
        for (_, ended), (started, _) in itertools.pairwise(spans):
            assert started >= ended, f"two runs of thread {thread_id} overlapped"


async def test_a_cron_fires_once_per_due_time_with_four_workers(hosts) -> None:
    a, _b, _, database_url = hosts
    on_a = get_client(url=a.url)
    thread = await on_a.threads.create()
    cron = await on_a.crons.create_for_thread(thread["thread_id"], "steps", schedule="0 0 1 1 *",
                                              input={"steps": 1, "seconds": 0.01})  # fmt: skip
    for firing in (1, 2):
        await make_due(database_url, cron["cron_id"])

        async def fired(count: int = firing) -> bool:
            return len(await on_a.runs.list(thread["thread_id"])) >= count

        await poll_until(fired, f"firing {firing}", seconds=30, every=0.2)
        await asyncio.sleep(7)  # every scheduler (5 s apart) has had its look
        assert len(await on_a.runs.list(thread["thread_id"])) == firing
    await on_a.crons.delete(cron["cron_id"])


async def runs_on_new_threads(
    client: LangGraphClient, count: int, *, steps: int, seconds: float
) -> list[tuple[str, str]]:
    """`(thread_id, run_id)` of `count` `steps` runs, each on a thread of its own, every completed
    step checkpointed before the next begins (`durability="sync"`)."""
    created = []
    for _ in range(count):
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "steps", input={"steps": steps, "seconds": seconds},
                                       durability="sync")  # fmt: skip
        created.append((thread["thread_id"], run["run_id"]))
    return created


def _runs_of(log: Path, run_ids: set[str]) -> dict[str, list[Step]]:
    steps: dict[str, list[Step]] = collections.defaultdict(list)
    for step in read_steps(log):
        if step.run_id in run_ids:
            steps[step.run_id].append(step)
    return steps


async def test_a_killed_host_s_runs_are_resumed_elsewhere_without_repeating_steps(
    postgres_server: str, tmp_path: Path
) -> None:
    database_url, log = create_database(postgres_server), tmp_path / "steps.log"
    env = host_env(database_url, log, N_JOBS_PER_WORKER="10")
    with ExitStack() as stack:
        a = start_host(stack, tmp_path / "a", env)
        on_a = get_client(url=a.url)
        created = await runs_on_new_threads(on_a, 20, steps=6, seconds=0.5)
        run_ids = {run_id for _, run_id in created}
        await poll_until(
            lambda: len(_runs_of(log, run_ids)) == 20 and all(len(s) >= 2 for s in _runs_of(log, run_ids).values()),
            "two steps of every run",
        )
        a.kill()  # the whole process group: Granian and its workers, no shutdown code
        killed_at = time.time()
        # A step is done once its checkpoint is committed: with durability="sync", that is before
        # the next step starts (a step that logged its end but whose checkpoint the kill cut off
        # runs again, as it should).
        done_before = {
            run_id: {s.step for s in steps if any(t.step == s.step + 1 and t.started < killed_at for t in steps)}
            for run_id, steps in _runs_of(log, run_ids).items()
        }
        b = start_host(stack, tmp_path / "b", env)
        on_b = get_client(url=b.url)
        for thread_id, run_id in created:
            assert (await until_terminal(on_b, thread_id, run_id, 120))["status"] == "success"
        b_pids = worker_pids(b)
        for run_id, steps in _runs_of(log, run_ids).items():
            counts = collections.Counter(s.step for s in steps)
            assert sorted(counts) == [1, 2, 3, 4, 5, 6], (run_id, counts)
            repeated = {step for step, n in counts.items() if n > 1}
            assert not repeated & done_before[run_id], f"run {run_id} executed a completed step again: {counts}"
            assert {s.pid for s in steps if s.started > killed_at} <= b_pids
        # A run the kill cut off (the slowest may have been all done before it) shows its second attempt.
        thread_id, run_id = min(created, key=lambda created_run: len(done_before[created_run[1]]))
        assert len(done_before[run_id]) < 6
        frames = await raw_stream(b.url, thread_id, run_id)
        metadata = [frame for frame in frames if frame["event"] == "metadata"]
        assert '"attempt":2' in metadata[-1]["data"].replace(" ", "")


async def test_sigterm_hands_running_runs_to_another_host(postgres_server: str, tmp_path: Path) -> None:
    database_url, log = create_database(postgres_server), tmp_path / "steps.log"
    env = host_env(database_url, log, N_JOBS_PER_WORKER="10", SHUTDOWN_GRACE_SECONDS="0.5")
    with ExitStack() as stack:
        a = start_host(stack, tmp_path / "a", env, workers=1)
        b = start_host(stack, tmp_path / "b", {**env, "N_JOBS_PER_WORKER": "10"}, workers=1)
        on_a, on_b = get_client(url=a.url), get_client(url=b.url)
        # B is busy with nothing; A takes the runs it creates at once.
        created = await runs_on_new_threads(on_a, 4, steps=5, seconds=0.4)
        run_ids = {run_id for _, run_id in created}
        await poll_until(lambda: len(_runs_of(log, run_ids)) == 4, "a step of every run")
        a_pids = worker_pids(a)
        os.killpg(a.process.pid, signal.SIGTERM)
        a.process.wait(timeout=30)
        for thread_id, run_id in created:
            assert (await until_terminal(on_b, thread_id, run_id, 60))["status"] == "success"
        for run_id, steps in _runs_of(log, run_ids).items():
            assert sorted({s.step for s in steps}) == [1, 2, 3, 4, 5], run_id
            assert {s.pid for s in steps} & a_pids and {s.pid for s in steps} - a_pids, "begun on A, ended on B"
        assert "Traceback" not in a.log()


async def test_worker_and_api_roles(postgres_server: str, tmp_path: Path) -> None:
    """`aegra serve --no-execute` stores runs; `aegra worker` executes them and answers only /ok."""
    database_url, log = create_database(postgres_server), tmp_path / "steps.log"
    env = host_env(database_url, log)
    with ExitStack() as stack:
        api = start_host(stack, tmp_path / "api", {**env, "AEGRA_ROLE": "api"}, workers=1)
        worker = start_host(stack, tmp_path / "worker", {**env, "AEGRA_ROLE": "worker"}, workers=1)
        async with httpx.AsyncClient(base_url=worker.url) as http:
            assert (await http.get("/ok")).status_code == 200
            assert (await http.post("/threads", json={})).status_code == 404
        client = get_client(url=api.url)
        thread = await client.threads.create()
        result = await client.runs.wait(thread["thread_id"], "steps", input={"steps": 2, "seconds": 0.05})
        assert result["done"] == 2
        assert {s.pid for s in read_steps(log)} <= worker_pids(worker)


async def test_losing_the_database_answers_503_and_the_server_recovers(tmp_path: Path) -> None:
    """While PostgreSQL is down, requests that need it answer 503 with a detail; once it is back,
    the server reconnects by itself, and the runs go on."""
    with throwaway_cluster() as cluster:
        database_url = create_database(cluster.url)
        env = host_env(database_url, tmp_path / "steps.log")
        with ExitStack() as stack:
            server = start_host(stack, tmp_path / "server", env, workers=1)
            client = get_client(url=server.url)
            thread = await client.threads.create()
            cluster.stop()
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                response = await http.get(f"/threads/{thread['thread_id']}")
                assert response.status_code == 503, response.text
                assert "database" in response.json()["detail"]
                assert (await http.get("/ok")).status_code == 200  # liveness needs no database
                cluster.start()

                async def back() -> bool:
                    return (await http.get(f"/threads/{thread['thread_id']}")).status_code == 200

                await poll_until(back, "the server's reconnection", seconds=30, every=0.5)
            result = await client.runs.wait(thread["thread_id"], "steps", input={"steps": 1, "seconds": 0.01})
            assert result["done"] == 1
            assert "Traceback" not in server.log()
