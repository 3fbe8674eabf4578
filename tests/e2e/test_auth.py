"""Auth end to end: a JWT-style bearer `Auth` file, users alice and bob (and read-only carol).

Bob cannot see, change or follow alice's assistants, threads, runs and store items: each answers
404 (or leaves them out of lists), exactly as for ids that do not exist (test_auth_matrix.py
checks this for every route). Without a valid token API routes answer 401 with `{"detail"}`.
The graph sees the user. The second part uses a probe auth file (tests/support/auth_files.py)
to pin the handlers' contract: what `@auth.authenticate` receives and may return, which
`@auth.on` handler runs, what its result means, and every filter operator, in SQL on both backends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.auth_files import PROBE_AUTH_FILE
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server

SECRET = b"aegra-test-secret"

AUTH_FILE = f"""
import base64, hashlib, hmac, json
from langgraph_sdk import Auth

SECRET = {SECRET!r}
WRITES = {{"create", "update", "delete", "create_run", "put"}}
auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None, method: str, path: str):
    if not authorization or not authorization.startswith("Bearer "):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Missing bearer token")
    payload, _, signature = authorization.removeprefix("Bearer ").partition(".")
    expected = hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
    claims = json.loads(base64.urlsafe_b64decode(payload))
    return {{"identity": claims["sub"], "permissions": claims.get("perms", []), "org": "acme"}}


def stamp_owner(ctx: Auth.types.AuthContext, value: dict) -> None:
    if ctx.action in ("create", "update", "create_run"):
        value["metadata"] = {{**(value.get("metadata") or {{}}), "owner": ctx.user.identity}}


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: dict):
    if "read-only" in ctx.permissions and ctx.action in WRITES:
        return False
    stamp_owner(ctx, value)
    return {{"owner": ctx.user.identity}}


@auth.on.assistants
async def owner_or_shared(ctx: Auth.types.AuthContext, value: dict):
    # More specific than `@auth.on`, so it wins for assistants: others may read what is shared with them.
    stamp_owner(ctx, value)
    if ctx.action in ("read", "search"):
        return {{"$or": [{{"owner": ctx.user.identity}}, {{"shared_with": {{"$contains": ctx.user.identity}}}}]}}
    return {{"owner": {{"$eq": ctx.user.identity}}}}


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: dict):
    namespace = tuple(value.get("namespace") or ())
    if namespace[:1] == ("shared",):
        # One namespace for all: items are stamped with their owner and filtered by it.
        if ctx.action == "put":
            value["value"] = {{**value["value"], "owner": ctx.user.identity}}
        return {{"owner": ctx.user.identity}}
    value["namespace"] = (ctx.user.identity, *namespace)
"""

GRAPH_FILE = """
import asyncio
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    sleep: float
    user_id: Any
    user: Any
    permissions: Any


async def whoami(state: State, config: RunnableConfig) -> State:
    await asyncio.sleep(state.get("sleep") or 0)
    configurable = config["configurable"]
    return {
        "user_id": configurable.get("langgraph_auth_user_id"),
        "user": configurable.get("langgraph_auth_user"),
        "permissions": configurable.get("langgraph_auth_permissions"),
    }


graph = StateGraph(State).add_node("whoami", whoami).add_edge(START, "whoami").add_edge("whoami", END).compile()
"""


def token(user: str, *perms: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"sub": user, "perms": list(perms)}).encode()).decode()
    return f"{payload}.{hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()}"


def headers(user: str, *perms: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, *perms)}"}


def write_project(
    folder: Path,
    *,
    auth: bool = True,
    http: dict[str, Any] | None = None,
    auth_file: str = AUTH_FILE,
    **auth_options: Any,
) -> dict[str, str]:
    """The auth file, the graph and aegra.json in `folder`; the server's environment (on SQLite)."""
    (folder / "whoami.py").write_text(GRAPH_FILE)
    config: dict[str, Any] = {"graphs": {"whoami": "./whoami.py:graph"}}
    if auth:
        (folder / "auth.py").write_text(textwrap.dedent(auth_file))
        config["auth"] = {"path": "./auth.py:auth", **auth_options}
    if http:
        config["http"] = http
    (folder / "aegra.json").write_text(json.dumps(config))
    return {"AEGRA_CONFIG": str(folder / "aegra.json"), "DATABASE_URL": f"sqlite:///{folder / 'aegra.db'}"}


def project_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str, **project: Any
) -> Iterator[RunningServer]:
    """A server on `write_project(**project)`, on the backend that `request` is parametrized with."""
    folder = tmp_path_factory.mktemp(f"{name}-{request.param}")
    env = {**write_project(folder, **project), "DATABASE_URL": database_for(request, folder)}
    with granian_server(folder, env) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from project_server(request, tmp_path_factory, "auth")


@pytest.fixture
def alice(server: RunningServer) -> LangGraphClient:
    return get_client(url=server.url, headers=headers("alice"))


@pytest.fixture
def bob(server: RunningServer) -> LangGraphClient:
    return get_client(url=server.url, headers=headers("bob"))


async def assert_not_found(call: Any) -> None:
    """404, as for an id that does not exist (some SDK methods raise plain `HTTPStatusError`)."""
    with pytest.raises(httpx.HTTPStatusError) as error:
        await call
    assert error.value.response.status_code == 404


async def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.request(method, url, **kwargs)


async def drain(stream: Any) -> None:
    if inspect.isawaitable(stream):  # `threads.join_stream` is a coroutine returning the iterator
        stream = await stream
    async for _ in stream:
        pass


# -- authentication ---------------------------------------------------------------------


def test_health_docs_and_info_stay_open(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/ok").status_code == 200
    assert "/threads" in httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200
    assert httpx.get(f"{server.url}/info").json()["flags"]["auth"] is True


async def test_studio_requests_are_authenticated_by_the_handler_too(server: RunningServer) -> None:
    studio = {"x-auth-scheme": "langsmith"}
    assert (await request("POST", f"{server.url}/threads/search", json={}, headers=studio)).status_code == 401
    allowed = await request("POST", f"{server.url}/threads/search", json={}, headers={**studio, **headers("alice")})
    assert allowed.status_code == 200


async def test_a_handler_returning_false_is_403(server: RunningServer) -> None:
    carol = get_client(url=server.url, headers=headers("carol", "read-only"))
    response = await request("POST", f"{server.url}/threads", json={}, headers=headers("carol", "read-only"))
    assert response.status_code == 403
    assert response.json() == {"detail": "Forbidden"}
    # Reads stay allowed (and filtered): carol sees none of alice's threads.
    assert await carol.threads.search() == []


# -- threads ----------------------------------------------------------------------------


async def test_threads_are_stamped_with_their_owner_and_hidden_from_others(
    alice: LangGraphClient, bob: LangGraphClient
) -> None:
    marker = {"suite": str(uuid.uuid4())}
    thread = await alice.threads.create(metadata=marker, graph_id="whoami")
    thread_id = thread["thread_id"]
    assert thread["metadata"]["owner"] == "alice"
    await alice.threads.update_state(thread_id, {"sleep": 0})
    # Someone else may not take it over by stamping a different owner either.
    await alice.threads.update(thread_id, metadata={"owner": "bob"})
    assert (await alice.threads.get(thread_id))["metadata"]["owner"] == "alice"

    await assert_not_found(bob.threads.get(thread_id))
    await assert_not_found(bob.threads.update(thread_id, metadata={"x": 1}))
    await assert_not_found(bob.threads.copy(thread_id))
    await assert_not_found(bob.threads.get_state(thread_id))
    await assert_not_found(bob.threads.get_history(thread_id))
    await assert_not_found(bob.threads.update_state(thread_id, {"sleep": 1}))
    await assert_not_found(bob.threads.delete(thread_id))
    assert await bob.threads.search(metadata=marker) == []
    assert await bob.threads.search(ids=[thread_id]) == []
    assert await bob.threads.count(metadata=marker) == 0
    with pytest.raises(httpx.HTTPStatusError) as conflict:
        await bob.threads.create(thread_id=thread_id, if_exists="do_nothing")
    assert conflict.value.response.status_code == 409
    # Pruning another user's thread prunes nothing.
    assert (await bob.http.post("/threads/prune", json={"thread_ids": [thread_id]}))["pruned_count"] == 0

    assert [t["thread_id"] for t in await alice.threads.search(metadata=marker)] == [thread_id]
    assert await alice.threads.count(metadata=marker) == 1
    assert (await alice.threads.get_state(thread_id))["values"] == {"sleep": 0}
    copy = await alice.threads.copy(thread_id)
    assert copy["metadata"]["owner"] == "alice"
    await alice.threads.delete(thread_id)
    await assert_not_found(alice.threads.get(thread_id))


# -- runs -------------------------------------------------------------------------------


async def test_the_graph_sees_the_authenticated_user(server: RunningServer) -> None:
    dave = get_client(url=server.url, headers=headers("dave", "runs:write"))
    result = await dave.runs.wait(None, "whoami", input={})
    assert result["user_id"] == "dave"
    assert result["permissions"] == ["runs:write"]
    assert result["user"]["identity"] == "dave"
    assert result["user"]["org"] == "acme"
    # A request cannot pass itself off as another user.
    spoofed = {"configurable": {"langgraph_auth_user_id": "alice"}}
    assert (await dave.runs.wait(None, "whoami", input={}, config=spoofed))["user_id"] == "dave"


async def test_runs_of_a_thread_are_hidden_from_other_users(alice: LangGraphClient, bob: LangGraphClient) -> None:
    thread_id = (await alice.threads.create())["thread_id"]
    done = await alice.runs.create(thread_id, "whoami", input={})
    assert (await alice.runs.join(thread_id, done["run_id"]))["user_id"] == "alice"
    slow = await alice.runs.create(thread_id, "whoami", input={"sleep": 3}, multitask_strategy="enqueue")

    for run_id in (done["run_id"], slow["run_id"]):
        await assert_not_found(bob.runs.get(thread_id, run_id))
        await assert_not_found(bob.runs.join(thread_id, run_id))
        await assert_not_found(bob.runs.cancel(thread_id, run_id))
        await assert_not_found(bob.runs.delete(thread_id, run_id))
        await assert_not_found(drain(bob.runs.join_stream(thread_id, run_id)))
    await assert_not_found(bob.runs.list(thread_id))
    await assert_not_found(bob.runs.create(thread_id, "whoami", input={}))
    await assert_not_found(bob.runs.wait(thread_id, "whoami", input={}))
    await assert_not_found(drain(bob.threads.join_stream(thread_id)))
    # Bulk cancel by status reaches only bob's own runs: alice's slow run goes on.
    await bob.runs.cancel_many(status="all")
    await bob.runs.cancel_many(thread_id=thread_id, run_ids=[slow["run_id"]])

    assert (await alice.runs.join(thread_id, slow["run_id"]))["user_id"] == "alice"
    assert (await alice.runs.get(thread_id, slow["run_id"]))["status"] == "success"
    assert {r["run_id"] for r in await alice.runs.list(thread_id)} == {done["run_id"], slow["run_id"]}
    await alice.runs.delete(thread_id, done["run_id"])


async def test_stateless_runs_are_hidden_from_other_users(
    server: RunningServer, alice: LangGraphClient, bob: LangGraphClient
) -> None:
    run = await alice.runs.create(None, "whoami", input={"sleep": 1}, on_completion="keep")
    for suffix in ("join", "stream"):
        response = await request("GET", f"{server.url}/runs/{run['run_id']}/{suffix}", headers=headers("bob"))
        assert response.status_code == 404
    joined = await request("GET", f"{server.url}/runs/{run['run_id']}/join", headers=headers("alice"))
    assert joined.json()["user_id"] == "alice"


async def test_a_run_creating_its_thread_gives_it_an_owner(alice: LangGraphClient, bob: LangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    await alice.runs.wait(thread_id, "whoami", input={}, if_not_exists="create")
    assert (await alice.threads.get(thread_id))["metadata"]["owner"] == "alice"
    await assert_not_found(bob.threads.get(thread_id))


# -- assistants -------------------------------------------------------------------------


async def test_assistants_are_hidden_from_other_users(alice: LangGraphClient, bob: LangGraphClient) -> None:
    marker = {"suite": str(uuid.uuid4())}
    assistant = await alice.assistants.create("whoami", metadata=marker, name="alice's")
    assistant_id = assistant["assistant_id"]
    assert assistant["metadata"]["owner"] == "alice"

    await assert_not_found(bob.assistants.get(assistant_id))
    await assert_not_found(bob.assistants.update(assistant_id, name="mine now"))
    await assert_not_found(bob.assistants.get_versions(assistant_id))
    await assert_not_found(bob.assistants.set_latest(assistant_id, 1))
    await assert_not_found(bob.assistants.get_graph(assistant_id))
    await assert_not_found(bob.assistants.get_schemas(assistant_id))
    await assert_not_found(bob.assistants.get_subgraphs(assistant_id))
    await assert_not_found(bob.assistants.delete(assistant_id))
    assert await bob.assistants.search(metadata=marker) == []
    assert await bob.assistants.count(metadata=marker) == 0
    # Running alice's assistant needs reading it; the graph's own (system) assistant is everyone's.
    await assert_not_found(bob.runs.wait(None, assistant_id, input={}))
    assert (await bob.runs.wait(None, "whoami", input={}))["user_id"] == "bob"
    # System assistants are known by id: metadata that claims to be one changes nothing.
    posing = await alice.assistants.create("whoami", metadata={"created_by": "system"})
    await assert_not_found(bob.runs.wait(None, posing["assistant_id"], input={}))
    # Creating "do nothing" over someone else's id does not hand their assistant over.
    with pytest.raises(httpx.HTTPStatusError) as conflict:
        await bob.assistants.create("whoami", assistant_id=assistant_id, if_exists="do_nothing")
    assert conflict.value.response.status_code == 409

    assert [a["assistant_id"] for a in await alice.assistants.search(metadata=marker)] == [assistant_id]
    assert (await alice.runs.wait(None, assistant_id, input={}))["user_id"] == "alice"
    assert (await alice.assistants.update(assistant_id, name="renamed"))["name"] == "renamed"
    await alice.assistants.delete(assistant_id)
    await assert_not_found(alice.assistants.get(assistant_id))


async def test_assistants_shared_with_a_user_are_readable_not_writable(
    alice: LangGraphClient, bob: LangGraphClient, server: RunningServer
) -> None:
    marker = str(uuid.uuid4())
    shared = await alice.assistants.create("whoami", metadata={"suite": marker, "shared_with": ["bob", "dave"]})
    await alice.assistants.create("whoami", metadata={"suite": marker, "shared_with": ["dave"]})
    assistant_id = shared["assistant_id"]

    assert (await bob.assistants.get(assistant_id))["metadata"]["owner"] == "alice"
    assert [a["assistant_id"] for a in await bob.assistants.search(metadata={"suite": marker})] == [assistant_id]
    assert (await bob.runs.wait(None, assistant_id, input={}))["user_id"] == "bob"
    await assert_not_found(bob.assistants.update(assistant_id, name="mine now"))
    await assert_not_found(bob.assistants.delete(assistant_id))
    carol = get_client(url=server.url, headers=headers("carol"))
    assert await carol.assistants.count(metadata={"suite": marker}) == 0
    assert await alice.assistants.count(metadata={"suite": marker}) == 2


# -- store ------------------------------------------------------------------------------


async def test_store_namespaces_are_scoped_per_user(alice: LangGraphClient, bob: LangGraphClient) -> None:
    key = str(uuid.uuid4())
    await alice.store.put_item(["notes"], key, {"text": "alice's"})
    item = await alice.store.get_item(["notes"], key)
    assert item is not None and item["namespace"] == ["alice", "notes"]
    assert await bob.store.get_item(["notes"], key) is None
    assert await bob.store.get_item(["alice", "notes"], key) is None  # lands in ["bob", "alice", "notes"]
    assert (await bob.store.search_items(["notes"]))["items"] == []
    assert all(ns[0] == "bob" for ns in (await bob.store.list_namespaces())["namespaces"])
    await bob.store.delete_item(["notes"], key)
    assert await alice.store.get_item(["notes"], key) is not None
    assert ["alice", "notes"] in (await alice.store.list_namespaces())["namespaces"]


async def test_store_filters_are_anded_into_reads(alice: LangGraphClient, bob: LangGraphClient) -> None:
    key = str(uuid.uuid4())
    await alice.store.put_item(["shared"], key, {"text": "alice's", "tag": key})
    await bob.store.put_item(["shared"], f"{key}-bob", {"text": "bob's", "tag": key})
    found = (await bob.store.search_items(["shared"], filter={"tag": key}))["items"]
    assert [i["key"] for i in found] == [f"{key}-bob"]
    # A filter naming alice as owner is ANDed with bob's own: it finds nothing.
    assert (await bob.store.search_items(["shared"], filter={"owner": "alice"}))["items"] == []
    assert await bob.store.get_item(["shared"], key) is None
    await bob.store.delete_item(["shared"], key)
    item = await alice.store.get_item(["shared"], key)
    assert item is not None and item["value"]["owner"] == "alice"


# -- the handlers' contract, with the probe auth file (tests/support/auth_files.py) ---------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from project_server(request, tmp_path_factory, "auth-probe", auth_file=PROBE_AUTH_FILE)


def as_user(name: str = "alice", **choices: str) -> dict[str, str]:
    """Headers for the probe: `choices` become `x-<name>` headers (`assistant_read` → `x-assistant-read`)."""
    return {"Authorization": f"User {name}", **{f"x-{k.replace('_', '-')}": v for k, v in choices.items()}}


async def test_authenticate_receives_the_parameters_it_names(probe: RunningServer) -> None:
    thread_id = (await get_client(url=probe.url, headers=as_user()).threads.create())["thread_id"]
    path = f"/threads/{thread_id}/runs/wait"
    response = await request(
        "POST", f"{probe.url}{path}?trace=yes", json={"assistant_id": "whoami", "input": {}},
        headers=as_user(probe="hello"),
    )  # fmt: skip
    assert response.json()["user"]["seen"] == {
        "path": path,
        "method": "POST",
        "path_params": {"thread_id": thread_id},
        "query_params": {"trace": "yes"},
        "header": "hello",
        "request_path": path,
        "request_path_params": {"thread_id": thread_id},
    }


@pytest.mark.parametrize(("shape", "permissions"), [("str", []), ("dict", ["from-dict"]), ("object", ["from-object"])])
async def test_authenticate_may_return_a_string_a_dict_or_a_user_object(
    probe: RunningServer, shape: str, permissions: list[str]
) -> None:
    result = await get_client(url=probe.url, headers=as_user("erin", shape=shape)).runs.wait(None, "whoami", input={})
    assert (result["user_id"], result["permissions"]) == ("erin", permissions)
    assert result["user"]["identity"] == "erin" and result["user"]["is_authenticated"] is True


@pytest.mark.parametrize("status", [401, 403, 429])
async def test_an_http_exception_from_authenticate_answers_its_status(probe: RunningServer, status: int) -> None:
    response = await request("POST", f"{probe.url}/threads/search", json={}, headers=as_user(deny=str(status)))
    assert response.status_code == status
    assert response.json() == {"detail": "denied by the probe"}
    assert response.headers["x-reason"] == "probe"


async def test_the_most_specific_handler_runs_and_may_change_the_value(probe: RunningServer) -> None:
    client = get_client(url=probe.url, headers=as_user())
    thread = await client.threads.create(metadata={"handled_by": "the caller"})
    assert thread["metadata"]["handled_by"] == "threads.create"  # @auth.on.threads.create
    updated = await client.threads.update(thread["thread_id"], metadata={"handled_by": "the caller"})
    assert updated["metadata"]["handled_by"] == "threads"  # @auth.on.threads
    assistant = await client.assistants.create("whoami", metadata={"handled_by": "the caller"})
    assert assistant["metadata"]["handled_by"] == "global"  # @auth.on: nothing closer for assistants.create


VERDICT_ROUTES = [
    ("POST", "/threads", {}),
    ("POST", "/threads/search", {}),
    ("POST", "/assistants/search", {}),
    ("POST", "/runs/crons/search", {}),
    ("PUT", "/store/items", {"namespace": ["probe"], "key": "k", "value": {}}),
    ("POST", "/store/items/search", {}),
]


@pytest.mark.parametrize(("verdict", "allowed"), [("true", True), ("none", True), ("false", False)])
async def test_true_and_none_allow_false_refuses_with_403(probe: RunningServer, verdict: str, allowed: bool) -> None:
    for method, path, body in VERDICT_ROUTES:
        response = await request(method, probe.url + path, json=body, headers=as_user(verdict=verdict))
        if allowed:
            assert response.status_code < 300, (path, response.text)
        else:
            assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"}), path


async def test_creating_a_run_needs_the_assistant_read_handler_too(probe: RunningServer) -> None:
    assistant_id = (await get_client(url=probe.url, headers=as_user()).assistants.create("whoami"))["assistant_id"]
    url = f"{probe.url}/runs/wait"
    refused = await request("POST", url, json={"assistant_id": assistant_id}, headers=as_user(assistant_read="false"))
    assert refused.status_code == 403
    # The graph's own (system) assistant is not read through the handler, as in langgraph-api.
    system = await request("POST", url, json={"assistant_id": "whoami"}, headers=as_user(assistant_read="false"))
    assert system.status_code == 200
    assert (await request("POST", url, json={"assistant_id": assistant_id}, headers=as_user())).status_code == 200


# Items by label, with their metadata; then filters a handler may return, with the labels each lets through.
LABELLED = {
    "ab": {"tags": ["b", "a"], "kind": "x"},
    "abc": {"tags": ["a", "b", "c"], "kind": "y"},
    "a": {"tags": ["a"], "kind": "x"},
    "string": {"tags": "abc", "kind": "z"},  # a string is no list: `$contains` never matches it
    "bare": {},
}
FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"tags": {"$contains": ["a", "b"]}}, {"ab", "abc"}),
    ({"tags": {"$contains": ["c", "a", "b"]}}, {"abc"}),
    ({"tags": {"$contains": "c"}}, {"abc"}),
    ({"tags": {"$contains": ["a"]}}, {"ab", "abc", "a"}),
    ({"kind": "x"}, {"ab", "a"}),
    ({"kind": {"$eq": "y"}}, {"abc"}),
    ({"$or": [{"kind": "z"}, {"tags": {"$contains": ["c", "a"]}}]}, {"string", "abc"}),
    ({"$and": [{"kind": "x"}, {"tags": {"$contains": ["b"]}}]}, {"ab"}),
]
# Each resource's collection path, what creating one needs, and its id field.
RESOURCES = {
    "threads": ("/threads", {}, "thread_id"),
    "assistants": ("/assistants", {"graph_id": "whoami"}, "assistant_id"),
    "crons": ("/runs/crons", {"assistant_id": "whoami", "schedule": "0 0 1 1 *"}, "cron_id"),
}


async def create_labelled(probe: RunningServer, resource: str, suite: dict[str, str]) -> dict[str, str]:
    """One `resource` per entry of LABELLED, marked with `suite`; their ids by label."""
    collection, create, id_field = RESOURCES[resource]
    ids = {}
    for label, metadata in LABELLED.items():
        body = {**create, "metadata": {**suite, "label": label, **metadata}}
        ids[label] = (await request("POST", probe.url + collection, json=body, headers=as_user())).json()[id_field]
    return ids


@pytest.mark.parametrize("resource", sorted(RESOURCES))
async def test_a_search_handler_may_narrow_the_search_by_changing_it(probe: RunningServer, resource: str) -> None:
    collection, _, _ = RESOURCES[resource]
    suite = {"suite": uuid.uuid4().hex}
    await create_labelled(probe, resource, suite)
    # The request asks for everything; the handler's metadata alone narrows it to this suite's kind "x".
    narrowed = as_user(search_metadata=json.dumps({**suite, "kind": "x"}))
    found = (await request("POST", f"{probe.url}{collection}/search", json={}, headers=narrowed)).json()
    assert {item["metadata"]["label"] for item in found} == {"ab", "a"}
    assert (await request("POST", f"{probe.url}{collection}/count", json={}, headers=narrowed)).json() == 2


@pytest.mark.parametrize("resource", sorted(RESOURCES))
async def test_a_handlers_filter_applies_to_every_read_search_count_update_and_delete(
    probe: RunningServer, resource: str
) -> None:
    collection, _, _ = RESOURCES[resource]
    suite = {"suite": uuid.uuid4().hex}
    ids = await create_labelled(probe, resource, suite)
    async with httpx.AsyncClient(base_url=probe.url, timeout=30) as http:
        for filter_, visible in FILTERS:
            filtered = as_user(filter=json.dumps(filter_))
            found = (await http.post(f"{collection}/search", json={"metadata": suite}, headers=filtered)).json()
            assert {item["metadata"]["label"] for item in found} == visible, filter_
            count = (await http.post(f"{collection}/count", json={"metadata": suite}, headers=filtered)).json()
            assert count == len(visible), filter_
            for label, item_id in ids.items():
                statuses = [
                    (await http.get(f"{collection}/{item_id}", headers=filtered)).status_code,
                    (await http.patch(f"{collection}/{item_id}", json={"metadata": {}}, headers=filtered)).status_code,
                ]
                if label not in visible:
                    statuses.append((await http.delete(f"{collection}/{item_id}", headers=filtered)).status_code)
                assert statuses == ([200, 200] if label in visible else [404, 404, 404]), (filter_, label)
