"""Crons under auth: test_auth.py's bearer `Auth` file (users alice, bob, read-only carol), whose
`@auth.on` handler stamps `metadata.owner` and filters every resource, crons included.

Bob cannot get, find, count, change or delete alice's crons (404, or left out), nor put a cron on
her thread; a cron fires as its creator, so her graph sees her, and the thread a stateless cron
keeps is hers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.test_auth import assert_not_found, headers, request, write_project
from tests.e2e.test_crons import SCHEDULER_ENV, Backend, eventually, finished_run, make_due
from tests.support.postgres import database_for
from tests.support.server import granian_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    folder = tmp_path_factory.mktemp(f"auth-crons-{request.param}")
    database_url = database_for(request, folder)
    env = {**write_project(folder), "DATABASE_URL": database_url, **SCHEDULER_ENV}
    with granian_server(folder, env) as running:
        yield Backend(running, database_url)


@pytest.fixture
def alice(backend: Backend) -> LangGraphClient:
    return get_client(url=backend.url, headers=headers("alice"))


@pytest.fixture
def bob(backend: Backend) -> LangGraphClient:
    return get_client(url=backend.url, headers=headers("bob"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/runs/crons"),
        ("POST", f"/threads/{uuid.uuid4()}/runs/crons"),
        ("POST", "/runs/crons/search"),
        ("POST", "/runs/crons/count"),
        ("GET", f"/runs/crons/{uuid.uuid4()}"),
        ("PATCH", f"/runs/crons/{uuid.uuid4()}"),
        ("DELETE", f"/runs/crons/{uuid.uuid4()}"),
    ],
)
async def test_cron_routes_need_a_valid_token(backend: Backend, method: str, path: str) -> None:
    response = await request(method, backend.url + path, json={"assistant_id": "whoami", "schedule": "* * * * *"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing bearer token"}


async def test_others_cannot_see_or_touch_a_cron(alice: LangGraphClient, bob: LangGraphClient) -> None:
    marker = {"suite": uuid.uuid4().hex}
    cron = await alice.crons.create("whoami", schedule="0 0 * * *", metadata=marker)
    cron_id = cron["cron_id"]
    assert cron["user_id"] == "alice" and cron["metadata"] == {**marker, "owner": "alice"}
    # Stamping another owner on an update does not hand the cron over.
    await alice.crons.update(cron_id, metadata={"owner": "bob"})
    assert (await alice.http.get(f"/runs/crons/{cron_id}"))["metadata"]["owner"] == "alice"

    await assert_not_found(bob.http.get(f"/runs/crons/{cron_id}"))
    await assert_not_found(bob.crons.update(cron_id, enabled=False))
    await assert_not_found(bob.crons.delete(cron_id))
    assert await bob.crons.search(metadata=marker) == []
    assert await bob.crons.count(metadata=marker) == 0
    assert [c["cron_id"] for c in await alice.crons.search(metadata=marker)] == [cron_id]
    assert await alice.crons.count(metadata=marker) == 1
    assert (await alice.http.get(f"/runs/crons/{cron_id}"))["enabled"] is True, "bob's update changed nothing"

    # Nor may bob schedule runs on alice's thread, or with her assistant.
    thread = await alice.threads.create()
    await assert_not_found(bob.crons.create_for_thread(thread["thread_id"], "whoami", schedule="0 0 * * *"))
    assistant = await alice.assistants.create("whoami")
    await assert_not_found(bob.crons.create(assistant["assistant_id"], schedule="0 0 * * *"))
    await alice.crons.create_for_thread(thread["thread_id"], assistant["assistant_id"], schedule="0 0 * * *")

    await alice.crons.delete(cron_id)
    assert await alice.crons.count(metadata=marker) == 0


async def test_a_read_only_user_cannot_create_crons(backend: Backend) -> None:
    response = await request(
        "POST",
        f"{backend.url}/runs/crons",
        json={"assistant_id": "whoami", "schedule": "* * * * *"},
        headers=headers("carol", "read-only"),
    )
    assert response.status_code == 403 and response.json() == {"detail": "Forbidden"}


async def test_a_cron_fires_as_its_creator(backend: Backend, alice: LangGraphClient, bob: LangGraphClient) -> None:
    thread = await alice.threads.create()
    bound = await alice.crons.create_for_thread(thread["thread_id"], "whoami", schedule="* * * * *", input={})
    marker = {"suite": uuid.uuid4().hex}
    kept = await alice.crons.create("whoami", schedule="* * * * *", input={}, metadata=marker, on_run_completed="keep")
    await make_due(backend.database_url, bound["cron_id"], kept["cron_id"])

    run = await eventually(lambda: finished_run(alice, thread["thread_id"]), "the thread cron's run")
    assert run["status"] == "success"
    values: dict[str, Any] = (await alice.threads.get_state(thread["thread_id"]))["values"]
    assert values["user_id"] == "alice" and values["user"]["identity"] == "alice"

    async def kept_thread() -> dict[str, Any] | None:
        threads = await alice.threads.search(metadata=marker)
        return threads[0] if threads and threads[0]["status"] == "idle" else None

    made = await eventually(kept_thread, "the stateless cron's thread")
    assert made["metadata"]["owner"] == "alice" and made["values"]["user_id"] == "alice"
    await assert_not_found(bob.threads.get(made["thread_id"]))
    with pytest.raises(httpx.HTTPStatusError):
        await bob.runs.list(made["thread_id"])
