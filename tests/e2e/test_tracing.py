"""OpenTelemetry traces (docs/operations.md), exported by a real server to an OTLP receiver in the
test: a request's span; a run's own trace whose root links to the request that created it, with
each node below (a subgraph's under its node, when the run streams subgraphs), the root being
the execution of a run that did not wait; a run that waits in the queue (claimed from the
database later) links the same way, with its queue wait and its execution below; store searches; trace ids in the
logs. And with no OTEL_* set, nothing is exported and the SDK is not even loaded."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.otlp_receiver import Receiver, Span, otlp_receiver
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
UNSAMPLED_TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def traced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Receiver]]:
    folder: Path = tmp_path_factory.mktemp(f"traced-{request.param}")
    with otlp_receiver() as receiver:
        env = {
            "AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG),
            "DATABASE_URL": database_for(request, folder),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "aegra-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        with granian_server(folder, env) as running:
            yield running, receiver


async def _one(receiver: Receiver, name: str, where: dict[str, str] | None = None, seconds: float = 20) -> Span:
    deadline = time.monotonic() + seconds
    while True:
        found = [s for s in receiver.named(name) if all(s.attributes.get(k) == v for k, v in (where or {}).items())]
        if found:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, f"no span {name} {where} among {[s.name for s in receiver.spans]}"
        await asyncio.sleep(0.1)


async def test_a_run_is_a_trace_of_its_own_linked_to_its_request(traced: tuple[RunningServer, Receiver]) -> None:
    server, receiver = traced
    client = get_client(url=server.url, headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    thread = await client.threads.create()
    # With `stream_subgraphs` the subgraph's own nodes are seen too.
    run = await client.runs.create(thread["thread_id"], "subgraph_parent", input={}, stream_subgraphs=True)
    await client.runs.join(thread["thread_id"], run["run_id"])

    request = next(s for s in await _wait_for(receiver, "POST /threads/{thread_id}/runs") if s.trace_id == CLIENT_TRACE)
    assert request.parent_span_id == CLIENT_SPAN, "the caller's traceparent is continued"
    assert request.attributes["http.response.status_code"] == 200 and request.service == "aegra-test"

    root = await _one(receiver, "run", {"aegra.run_id": run["run_id"]})
    assert root.trace_id != CLIENT_TRACE and root.parent_span_id == "", "a trace of its own"
    assert root.links == [(request.trace_id, request.span_id)], "linked to the request that created it"
    assert root.attributes["aegra.graph_id"] == "subgraph_parent"
    assert "aegra.attempt" not in root.attributes, "a first attempt"
    await _one(receiver, "node finish")
    # Started at its creation, it did not wait in the queue: its root is its execution, with
    # neither `run.queue` nor `run.graph` (the same interval) below.
    nodes = {s.name: s for s in receiver.children(root)}
    assert {"node prepare", "node child", "node finish"} == set(nodes), nodes
    assert [s.name for s in receiver.children(nodes["node child"])] == ["node child_step"]


async def test_a_run_claimed_later_links_to_its_request(traced: tuple[RunningServer, Receiver]) -> None:
    server, receiver = traced
    client = get_client(url=server.url)
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input={"messages": []}, after_seconds=1)
    assert run["status"] == "pending"
    await client.runs.join(thread["thread_id"], run["run_id"])
    root = await _one(receiver, "run", {"aegra.run_id": run["run_id"]})
    [request] = [s for s in receiver.named("POST /threads/{thread_id}/runs") if (s.trace_id, s.span_id) in root.links]
    assert request.trace_id != root.trace_id
    below = {s.name: s for s in receiver.children(root)}
    assert set(below) == {"run.queue", "run.graph"}, below
    assert root.start_ns == below["run.queue"].start_ns, "the root starts at the run's creation"
    assert below["run.queue"].end_ns <= below["run.graph"].start_ns, "claimed from the queue: its wait"
    assert [s.name for s in receiver.children(below["run.graph"])] == ["node chat"]


async def test_store_searches_and_trace_ids_in_logs(traced: tuple[RunningServer, Receiver]) -> None:
    server, receiver = traced
    client = get_client(url=server.url)
    await client.store.put_item(["traced"], "k", {"v": 1})
    await client.store.search_items(["traced"], filter={"v": 1})
    search = (await _wait_for(receiver, "store.search"))[-1]
    [request] = [s for s in receiver.named("POST /store/items/search") if s.span_id == search.parent_span_id]
    access = [
        line for line in server.log().splitlines() if "POST /store/items/search" in line and "aegra.access" in line
    ]
    assert f"trace_id={request.trace_id}" in access[-1], access


async def _wait_for(receiver: Receiver, name: str, seconds: float = 20) -> list[Span]:
    deadline = time.monotonic() + seconds
    while not receiver.named(name):
        assert time.monotonic() < deadline, f"no span {name}"
        await asyncio.sleep(0.1)
    return receiver.named(name)


async def test_a_request_sampled_out_is_answered_and_not_exported(traced: tuple[RunningServer, Receiver]) -> None:
    """A caller's `traceparent` whose flags say "not sampled" (the default sampler follows its parent):
    the request is answered, no span of it is exported, and a run it creates is still traced (its
    own trace, sampled on its own), without a link."""
    server, receiver = traced
    unsampled = {"traceparent": f"00-{UNSAMPLED_TRACE}-{CLIENT_SPAN}-00"}
    client = get_client(url=server.url, headers=unsampled)
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input={"messages": []})
    await client.runs.join(thread["thread_id"], run["run_id"])
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"
    root = await _one(receiver, "run", {"aegra.run_id": run["run_id"]})
    assert root.links == [], "its request was not recorded: no link to a span nobody exported"
    await client.threads.get(thread["thread_id"])  # the server still answers on this connection
    assert not [s for s in receiver.spans if s.trace_id == UNSAMPLED_TRACE]
    assert "Traceback" not in server.log()


def test_tracing_off_loads_no_sdk(tmp_path: Path) -> None:
    """Without OTEL_* the app is built without OpenTelemetry's SDK ever imported (it costs nothing)."""
    probe = (
        "import sys; from aegra.server.app import create_app; create_app(); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    off = subprocess.run([sys.executable, "-c", probe], env={**env, "AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG)},
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "[]"
    on = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                        env={**env, "AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG),
                             "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})  # fmt: skip
    assert "opentelemetry.sdk.trace" in on.stdout, on.stdout + on.stderr


async def test_a_run_streamed_as_events_has_its_node_spans(traced: tuple[RunningServer, Receiver]) -> None:
    """The `events` stream mode runs through LangChain's callbacks: the node spans come from there."""
    server, receiver = traced
    client = get_client(url=server.url)
    thread = await client.threads.create()
    async for _ in client.runs.stream(thread["thread_id"], "subgraph_parent", input={}, stream_mode="events"):
        pass
    [run] = await client.runs.list(thread["thread_id"])
    graph = await _one(receiver, "run", {"aegra.run_id": run["run_id"]})  # it did not wait: no run.graph
    deadline = time.monotonic() + 20
    while {"node prepare", "node child", "node finish"} - {s.name for s in receiver.children(graph)}:
        assert time.monotonic() < deadline, [s.name for s in receiver.children(graph)]
        await asyncio.sleep(0.1)
    child = next(s for s in receiver.children(graph) if s.name == "node child")
    assert [s.name for s in receiver.children(child)] == ["node child_step"]
