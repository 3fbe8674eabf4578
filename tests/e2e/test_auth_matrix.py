"""Every API route, two users: bob cannot reach anything of alice's, and without a token nothing at all.

One table (`MATRIX`) names each route of the API (as /openapi.json lists them) with a request
aimed at one of alice's assistants, threads, runs, crons or store items. Bob's request must
answer 404 (as for an id that does not exist), leave alice's resource out of a list or count,
or change nothing. Alice then sends the same non-destructive requests and must succeed and see
her resource, which proves that bob's 404 comes from isolation and not from a bad request.
A route added to the API without a row here fails `test_the_matrix_covers_every_route`.
The server is test_auth.py's: a JWT-style bearer `Auth` file whose handlers stamp and filter
`metadata.owner`, and scope store namespaces per user.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.test_auth import headers, project_server, token
from tests.support.server import RunningServer

OPEN_ROUTES = {("GET", "/ok"), ("GET", "/info")}
SCHEDULE = "0 0 1 1 *"
SLOW_RUN_SECONDS = 60  # alice's run in flight while bob tries to cancel, join and stream it; she cancels it


@dataclass(frozen=True)
class Owned:
    """Alice's resources, as the path parameters and body placeholders of the matrix name them."""

    assistant_id: str
    thread_id: str  # idle, with a finished run `run_id` and a checkpoint
    run_id: str
    busy_thread_id: str  # running `busy_run_id`
    busy_run_id: str
    stateless_run_id: str
    cron_id: str
    checkpoint_id: str
    marker: str  # metadata `suite` of her assistant, threads and cron
    key: str  # her store items in ["shared"] and ["shared", "project-<key>"] (filtered by owner), ["notes"]

    def params(self, on: str) -> dict[str, str]:
        thread_id, run_id = {
            "done": (self.thread_id, self.run_id),
            "busy": (self.busy_thread_id, self.busy_run_id),
            "stateless": ("", self.stateless_run_id),
        }[on]
        return {**vars(self), "thread_id": thread_id, "run_id": run_id, "namespace": "whoami"}


@dataclass(frozen=True)
class Call:
    method: str
    route: str  # exactly as in /openapi.json
    body: Any = None  # strings may hold `{placeholders}` of `Owned.params`
    query: dict[str, str] | None = None
    on: str = "done"  # which of alice's runs (and its thread) `{thread_id}` and `{run_id}` name
    bob: int = 404  # bob's status, unless `sees` is given
    sees: Callable[[Any], bool] | None = None  # for lists: does the answer show alice's resource?
    control: bool = True  # alice repeats it (not destructive, not blocking) and must succeed

    def __str__(self) -> str:
        return f"{self.method} {self.route} ({self.on})"


def non_empty(body: Any) -> bool:
    return bool(body)


def positive(count: Any) -> bool:
    return int(count) > 0


def pruned(body: Any) -> bool:
    return int(body["pruned_count"]) > 0


def has_alice_item(body: Any) -> bool:
    return any(item["value"].get("owner") == "alice" or item["namespace"][0] == "alice" for item in body["items"])


def has_alice_namespace(body: Any) -> bool:
    """Her ["alice", "notes"], or the name of her ["shared", "project-<key>"]."""
    return any(ns[0] == "alice" or ns[-1].startswith("project-") for ns in body["namespaces"])


def answered(body: Any) -> bool:
    """A JSON-RPC answer with a result (not an error)."""
    return "result" in body


A2A_MESSAGE = {"messageId": "m", "role": "user", "parts": [{"kind": "data", "data": {}}]}
A2A_SEND = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": A2A_MESSAGE}}
MARKED = {"metadata": {"suite": "{marker}"}}
RUN = {"assistant_id": "{assistant_id}", "input": {}}
THREAD_RUN = {"assistant_id": "whoami", "input": {}}
SHARED_ITEM = {"namespace": ["shared"], "key": "{key}"}

MATRIX = [
    # -- assistants
    # Her id is taken (409, as a thread's or an item's): bob does not get her assistant with "do_nothing".
    Call(
        "POST",
        "/assistants",
        {"graph_id": "whoami", "assistant_id": "{assistant_id}", "if_exists": "do_nothing"},
        bob=409,
    ),
    Call("POST", "/assistants/search", MARKED, sees=non_empty),
    Call("POST", "/assistants/count", MARKED, sees=positive),
    Call("GET", "/assistants/{assistant_id}"),
    Call("PATCH", "/assistants/{assistant_id}", {"name": "alice's"}),
    Call("DELETE", "/assistants/{assistant_id}", control=False),
    Call("GET", "/assistants/{assistant_id}/graph"),
    Call("POST", "/assistants/{assistant_id}/latest", {"version": 1}),
    Call("GET", "/assistants/{assistant_id}/schemas"),
    Call("GET", "/assistants/{assistant_id}/subgraphs"),
    Call("GET", "/assistants/{assistant_id}/subgraphs/{namespace}"),
    Call("POST", "/assistants/{assistant_id}/versions", {}),
    # -- threads
    Call("POST", "/threads", {"thread_id": "{thread_id}", "if_exists": "do_nothing"}, bob=409),
    Call("POST", "/threads/search", MARKED, sees=non_empty),
    Call("POST", "/threads/search", {"ids": ["{thread_id}"]}, sees=non_empty),
    Call("POST", "/threads/count", MARKED, sees=positive),
    Call("POST", "/threads/prune", {"thread_ids": ["{thread_id}"]}, sees=pruned, control=False),
    Call("GET", "/threads/{thread_id}"),
    Call("PATCH", "/threads/{thread_id}", {"metadata": {"suite": "{marker}"}}),
    Call("DELETE", "/threads/{thread_id}", control=False),
    Call("POST", "/threads/{thread_id}/copy"),
    Call("GET", "/threads/{thread_id}/history"),
    Call("POST", "/threads/{thread_id}/history", {"limit": 5}),
    Call("GET", "/threads/{thread_id}/state"),
    Call("POST", "/threads/{thread_id}/state", {"values": {"sleep": 0}}),
    Call("POST", "/threads/{thread_id}/state/checkpoint", {"checkpoint": {"checkpoint_id": "{checkpoint_id}"}}),
    Call("GET", "/threads/{thread_id}/state/{checkpoint_id}"),
    Call("GET", "/threads/{thread_id}/storage"),
    # The thread stream stays open for the thread's next runs: alice's would never end.
    Call("GET", "/threads/{thread_id}/stream", control=False),
    Call("POST", "/threads/{thread_id}/stream/events", {"channels": ["values"]}, control=False),
    # A protocol command answers in its own envelope: bob's is an error, never a started run.
    Call(
        "POST",
        "/threads/{thread_id}/commands",
        {"id": 1, "method": "run.start", "params": {"assistant_id": "whoami", "input": {}}},
        sees=lambda body: body.get("type") == "success",
        control=False,
    ),
    # -- runs of a thread (after the state rows: alice's runs here keep her thread busy a moment)
    Call("GET", "/threads/{thread_id}/runs"),
    Call("POST", "/threads/{thread_id}/runs", THREAD_RUN),
    Call("POST", "/threads/{thread_id}/runs/stream", THREAD_RUN),
    Call("POST", "/threads/{thread_id}/runs/wait", THREAD_RUN),
    Call("GET", "/threads/{thread_id}/runs/{run_id}"),
    Call("DELETE", "/threads/{thread_id}/runs/{run_id}", control=False),
    Call("GET", "/threads/{thread_id}/runs/{run_id}/join"),
    Call("GET", "/threads/{thread_id}/runs/{run_id}/stream"),
    Call("GET", "/threads/{thread_id}/runs/{run_id}/webhooks"),
    Call("GET", "/threads/{thread_id}/runs/{run_id}", on="busy"),
    Call("POST", "/threads/{thread_id}/runs/{run_id}/cancel", on="busy", control=False),
    Call("GET", "/threads/{thread_id}/runs/{run_id}/join", on="busy", control=False),
    Call("GET", "/threads/{thread_id}/runs/{run_id}/stream", on="busy", control=False),
    Call("GET", "/threads/{thread_id}/stream", on="busy", control=False),
    Call("POST", "/threads/{thread_id}/runs/crons", {**THREAD_RUN, "schedule": SCHEDULE}),
    # -- stateless runs and bulk cancel (bob's 204 cancels nothing: checked after the pass)
    Call("POST", "/runs", RUN),
    Call("POST", "/runs/stream", RUN),
    Call("POST", "/runs/wait", RUN),
    Call("POST", "/runs/batch", [RUN]),
    Call("GET", "/runs/{run_id}/join", on="stateless"),
    Call("GET", "/runs/{run_id}/stream", on="stateless"),
    Call("GET", "/runs/{run_id}/webhooks", on="stateless"),
    Call(
        "POST", "/runs/cancel", {"thread_id": "{thread_id}", "run_ids": ["{run_id}"]}, on="busy", bob=204, control=False
    ),
    Call("POST", "/runs/cancel", {"status": "all"}, bob=204, control=False),
    # -- crons
    Call("POST", "/runs/crons", {**RUN, "schedule": SCHEDULE}),
    Call("POST", "/runs/crons/search", MARKED, sees=non_empty),
    Call("POST", "/runs/crons/count", MARKED, sees=positive),
    Call("GET", "/runs/crons/{cron_id}"),
    Call("PATCH", "/runs/crons/{cron_id}", {"metadata": {"suite": "{marker}"}}),
    Call("DELETE", "/runs/crons/{cron_id}", control=False),
    # -- store: ["shared"] is filtered by `value.owner`, ["notes"] is rewritten to [<user>, "notes"]
    Call("GET", "/store/items", query={"namespace": "shared", "key": "{key}"}, sees=lambda item: item is not None),
    Call("GET", "/store/items", query={"namespace": "notes", "key": "{key}"}, sees=lambda item: item is not None),
    Call("PUT", "/store/items", {**SHARED_ITEM, "value": {"text": "alice's"}}, bob=409),
    Call("DELETE", "/store/items", SHARED_ITEM, bob=204, control=False),
    Call("DELETE", "/store/items", {"namespace": ["notes"], "key": "{key}"}, bob=204, control=False),
    Call("POST", "/store/items/search", {"namespace_prefix": ["shared"]}, sees=has_alice_item),
    Call("POST", "/store/items/search", {"namespace_prefix": ["notes"]}, sees=has_alice_item),
    Call("POST", "/store/namespaces", {}, sees=has_alice_namespace),
    # -- MCP and A2A (JSON-RPC: a refusal is an error object, not a status)
    Call(
        "POST",
        "/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "alices"}},
        sees=answered,
        control=False,
    ),  # fmt: skip  (her assistants of other tests share the name)
    Call("DELETE", "/mcp", bob=405, control=False),  # no sessions on this server
    Call("POST", "/a2a/{assistant_id}", A2A_SEND, sees=answered),
    Call("GET", "/a2a/{assistant_id}"),
    Call("GET", "/a2a/{assistant_id}/.well-known/agent-card.json"),
    Call("GET", "/a2a/{assistant_id}/.well-known/agent.json"),
    Call("GET", "/.well-known/agent-card.json", query={"assistant_id": "{assistant_id}"}),
    Call("POST", "/store/namespaces", {"prefix": ["shared"]}, sees=has_alice_namespace),
]


def fill(template: Any, params: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format_map(params)
    if isinstance(template, dict):
        return {key: fill(value, params) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, params) for value in template]
    return template


async def send(http: httpx.AsyncClient, call: Call, owned: Owned, user: str) -> httpx.Response:
    params = owned.params(call.on)
    return await http.request(
        call.method,
        fill(call.route, params),
        json=fill(call.body, params),
        params=fill(call.query, params),
        headers=headers(user),
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from project_server(request, tmp_path_factory, "auth-matrix")


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


async def make_alices(server: RunningServer) -> Owned:
    alice = get_client(url=server.url, headers=headers("alice"))
    marker = uuid.uuid4().hex
    metadata = {"suite": marker}
    assistant = await alice.assistants.create("whoami", metadata=metadata, name="alice's")
    thread = await alice.threads.create(metadata=metadata)
    run = await alice.runs.create(thread["thread_id"], "whoami", input={})
    await alice.runs.join(thread["thread_id"], run["run_id"])
    state = await alice.threads.get_state(thread["thread_id"])
    busy_thread = await alice.threads.create(metadata=metadata)
    busy_run = await alice.runs.create(busy_thread["thread_id"], "whoami", input={"sleep": SLOW_RUN_SECONDS})
    stateless = await alice.runs.create(None, "whoami", input={}, on_completion="keep")
    cron = await alice.crons.create("whoami", schedule=SCHEDULE, metadata=metadata)
    key = uuid.uuid4().hex
    await alice.store.put_item(["shared"], key, {"text": "alice's"})
    await alice.store.put_item(["notes"], key, {"text": "alice's"})
    await alice.store.put_item(["shared", f"project-{key}"], key, {"text": "alice's"})
    return Owned(
        assistant_id=assistant["assistant_id"],
        thread_id=thread["thread_id"],
        run_id=run["run_id"],
        busy_thread_id=busy_thread["thread_id"],
        busy_run_id=busy_run["run_id"],
        stateless_run_id=stateless["run_id"],
        cron_id=cron["cron_id"],
        checkpoint_id=state["checkpoint"]["checkpoint_id"],
        marker=marker,
        key=key,
    )


async def test_the_matrix_covers_every_route(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    assert routes - OPEN_ROUTES == {(call.method, call.route) for call in MATRIX}


async def test_every_route_needs_a_valid_token(http: httpx.AsyncClient) -> None:
    owned = Owned(*(str(uuid.uuid4()) for _ in Owned.__dataclass_fields__))
    forged = token("alice").rsplit(".", 1)[0] + "." + "0" * 64
    attempts = [({}, "Missing bearer token"), ({"Authorization": f"Bearer {forged}"}, "Invalid token")]
    wrong = []
    for call in MATRIX:
        params = owned.params(call.on)
        for credentials, detail in attempts:
            response = await http.request(
                call.method,
                fill(call.route, params),
                json=fill(call.body, params),
                params=fill(call.query, params),
                headers=credentials,
            )
            if response.status_code != 401 or response.json() != {"detail": detail}:
                wrong.append(f"{call}: {response.status_code} {response.text[:100]}")
    assert wrong == []


async def test_bob_cannot_reach_anything_of_alices(server: RunningServer, http: httpx.AsyncClient) -> None:
    owned = await make_alices(server)
    leaks = []
    for call in MATRIX:
        response = await send(http, call, owned, "bob")
        if call.sees is not None:
            leaked = response.status_code >= 300 or call.sees(response.json())
        else:
            leaked = response.status_code != call.bob
        if leaked:
            leaks.append(f"{call}: {response.status_code} {response.text[:200]}")
    assert leaks == []

    # Bob's writes, cancels and deletes changed nothing of hers.
    alice = get_client(url=server.url, headers=headers("alice"))
    assert (await alice.assistants.get(owned.assistant_id))["name"] == "alice's"
    assert (await alice.threads.get(owned.thread_id))["metadata"]["owner"] == "alice"
    assert (await alice.runs.get(owned.thread_id, owned.run_id))["status"] == "success"
    busy = await alice.runs.get(owned.busy_thread_id, owned.busy_run_id)
    assert busy["status"] in ("pending", "running")
    assert (await alice.http.get(f"/runs/crons/{owned.cron_id}"))["enabled"] is True
    for namespace in (["shared"], ["notes"]):
        item = await alice.store.get_item(namespace, owned.key)
        assert item is not None and item["value"]["text"] == "alice's"
    await alice.runs.cancel(owned.busy_thread_id, owned.busy_run_id, wait=True)
    assert (await alice.runs.get(owned.busy_thread_id, owned.busy_run_id))["status"] == "interrupted"

    # The control: alice's own requests find what bob's did not.
    failures = []
    for call in MATRIX:
        if not call.control:
            continue
        response = await send(http, call, owned, "alice")
        if response.status_code >= 300 or (call.sees is not None and not call.sees(response.json())):
            failures.append(f"{call}: {response.status_code} {response.text[:200]}")
    assert failures == []
