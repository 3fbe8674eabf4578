"""`client.crons.*` and the cron scheduler against a real server, on SQLite and PostgreSQL.

The scheduler looks for due crons every 0.1 s here (`CRON_SCHEDULER_SLEEP_TIME`). A schedule
is due at its next minute at the earliest, so tests make a cron due at once by moving its
`next_run_date` into the past in the database, as time passing would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from sqlalchemy import update

from aegra.db.engine import Database
from aegra.db.models import Cron
from aegra.db.tables import crons
from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.database import open_database
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server
from tests.support.webhook_receiver import webhook_receiver

T = TypeVar("T")
USER_HI = {"messages": [{"role": "user", "content": "hi"}]}
CRON_FIELDS = {
    "cron_id", "assistant_id", "thread_id", "on_run_completed", "end_time", "schedule", "timezone", "created_at",
    "updated_at", "payload", "user_id", "next_run_date", "metadata", "enabled",
}  # fmt: skip
SCHEDULER_ENV = {"CRON_SCHEDULER_SLEEP_TIME": "0.1"}


@dataclass
class Backend:
    server: RunningServer
    database_url: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    folder: Path = tmp_path_factory.mktemp(f"crons-{request.param}")
    database_url = database_for(request, folder)
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_url, **SCHEDULER_ENV}
    with granian_server(folder, env) as running:
        yield Backend(running, database_url)


@pytest.fixture
def client(backend: Backend) -> LangGraphClient:
    return get_client(url=backend.url)


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP, for what the SDK does not show (headers, status codes, invalid bodies)."""
    async with httpx.AsyncClient(base_url=backend.url) as raw:
        yield raw


def tag() -> dict[str, str]:
    """Metadata unique to one test, so tests sharing a server find only their own crons."""
    return {"test": uuid.uuid4().hex}


async def make_due(database_url: str, *cron_ids: str) -> None:
    """Move the crons' next run into the past: they are due now, as if their time had come."""
    async with open_database(database_url) as database, database.session() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        ids = [uuid.UUID(cron_id) for cron_id in cron_ids]
        # `updated_at` kept: the column's onupdate would otherwise mark the cron edited.
        statement = update(Cron).where(Cron.cron_id.in_(ids)).values(next_run_date=past, updated_at=Cron.updated_at)
        await session.execute(statement)


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `check` until it returns something; the scheduler runs in the background."""
    for _ in range(300):
        if (found := await check()) is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def finished_run(client: LangGraphClient, thread_id: str) -> dict[str, Any] | None:
    runs = await client.runs.list(thread_id)
    return runs[0] if runs and runs[0]["status"] not in ("pending", "running") else None


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- the API ----------------------------------------------------------------------------


async def test_every_client_method(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    marker = tag()
    stateless = await client.crons.create(
        "agent", schedule="*/5 * * * *", input=USER_HI, metadata=marker, stream_mode=["values", "updates"]
    )
    assert set(stateless) == CRON_FIELDS
    assert stateless["thread_id"] is None and stateless["on_run_completed"] == "delete"
    assert stateless["enabled"] is True and stateless["end_time"] is None and stateless["user_id"] == ""
    assert stateless["metadata"] == marker and stateless["schedule"] == "*/5 * * * *"
    assert stateless["payload"]["input"] == USER_HI and stateless["payload"]["stream_mode"] == ["values", "updates"]
    next_run = parse_time(stateless["next_run_date"])
    assert next_run > datetime.now(UTC) and next_run.minute % 5 == 0 and next_run.second == 0

    thread = await client.threads.create()
    bound = await client.crons.create_for_thread(
        thread["thread_id"], "agent", schedule="0 9 * * *", timezone="Europe/Paris", metadata=marker,
        multitask_strategy="enqueue", enabled=False,
    )  # fmt: skip
    assert bound["thread_id"] == thread["thread_id"] and bound["on_run_completed"] is None
    assert bound["timezone"] == "Europe/Paris" and bound["enabled"] is False
    assert bound["payload"]["multitask_strategy"] == "enqueue"
    # 09:00 in Paris is 08:00 UTC in winter, 07:00 in summer.
    assert parse_time(bound["next_run_date"]).hour in (7, 8)

    assert (await http.get(f"/runs/crons/{stateless['cron_id']}")).json() == stateless

    found = await client.crons.search(metadata=marker)
    assert [c["cron_id"] for c in found] == [bound["cron_id"], stateless["cron_id"]], "newest first"
    assert await client.crons.count(metadata=marker) == 2
    assert [c["cron_id"] for c in await client.crons.search(thread_id=thread["thread_id"])] == [bound["cron_id"]]
    assert await client.crons.count(thread_id=thread["thread_id"]) == 1
    assert [c["cron_id"] for c in await client.crons.search(metadata=marker, enabled=False)] == [bound["cron_id"]]
    by_graph = await client.crons.search(assistant_id="agent", metadata=marker)
    assert len(by_graph) == 2
    assert await client.crons.count(assistant_id=stateless["assistant_id"], metadata=marker) == 2
    ascending = await client.crons.search(metadata=marker, sort_by="created_at", sort_order="asc")
    assert [c["cron_id"] for c in ascending] == [stateless["cron_id"], bound["cron_id"]]
    by_thread = await client.crons.search(metadata=marker, sort_by="thread_id", sort_order="asc")
    assert by_thread[0]["thread_id"] is None, "crons without a thread sort first, on both backends"
    selected = await client.crons.search(metadata=marker, select=["cron_id", "schedule"], limit=1)
    assert selected == [{"cron_id": bound["cron_id"], "schedule": "0 9 * * *"}]

    page = await http.post("/runs/crons/search", json={"metadata": marker, "limit": 1})
    assert page.headers["x-pagination-next"] == "1" and page.headers["x-pagination-total"] == "2"
    last = await http.post("/runs/crons/search", json={"metadata": marker, "limit": 1, "offset": 1})
    assert "x-pagination-next" not in last.headers and last.headers["x-pagination-total"] == "2"

    updated = await client.crons.update(stateless["cron_id"], schedule="0 * * * *", on_run_completed="keep")
    assert updated["schedule"] == "0 * * * *" and updated["on_run_completed"] == "keep"

    await client.crons.delete(stateless["cron_id"])
    assert (await http.get(f"/runs/crons/{stateless['cron_id']}")).status_code == 404
    assert (await http.delete(f"/runs/crons/{stateless['cron_id']}")).status_code == 404
    # Deleting the thread deletes its crons.
    await client.threads.delete(thread["thread_id"])
    assert await client.crons.count(metadata=marker) == 0


async def test_patch_semantics(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    end = datetime.now(UTC) + timedelta(days=3)
    cron = await client.crons.create(
        "agent", schedule="0 0 1 1 *", input=USER_HI, metadata={"a": 1, **tag()}, end_time=end, webhook="/ok"
    )
    cron_id = cron["cron_id"]
    assert parse_time(cron["end_time"]) == end

    # Nothing given: refused, and nothing changes.
    empty = await http.patch(f"/runs/crons/{cron_id}", json={})
    assert empty.status_code == 400 and empty.json() == {"detail": "Request body cannot be empty"}
    assert (await http.get(f"/runs/crons/{cron_id}")).json() == cron

    # A new schedule moves the next run; metadata merges; run fields given replace the stored ones.
    patched = await client.crons.update(cron_id, schedule="30 6 * * *", metadata={"b": 2}, input={"messages": []})
    assert patched["next_run_date"] != cron["next_run_date"]
    next_run = parse_time(patched["next_run_date"])
    assert (next_run.hour, next_run.minute) == (6, 30) and next_run > datetime.now(UTC)
    assert patched["metadata"] == {**cron["metadata"], "b": 2}
    assert patched["payload"]["input"] == {"messages": []} and patched["payload"]["webhook"] == "/ok"
    assert patched["end_time"] == cron["end_time"], "end_time left out: unchanged"
    assert patched["updated_at"] > cron["updated_at"] and patched["created_at"] == cron["created_at"]

    # A time zone alone moves the next run too (06:30 in Tokyo is 21:30 UTC).
    in_tokyo = await client.crons.update(cron_id, timezone="Asia/Tokyo")
    assert parse_time(in_tokyo["next_run_date"]).hour == 21 and in_tokyo["timezone"] == "Asia/Tokyo"

    cleared = await client.crons.update(cron_id, end_time=None)
    assert cleared["end_time"] is None
    disabled = await client.crons.update(cron_id, enabled=False)
    assert disabled["enabled"] is False and disabled["next_run_date"] == in_tokyo["next_run_date"]


async def test_bad_input_is_refused_and_writes_nothing(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    marker = tag()
    thread = await client.threads.create()
    good = {"assistant_id": "agent", "schedule": "* * * * *", "metadata": marker}
    refused: list[tuple[str, dict[str, Any], int]] = [
        ("/runs/crons", {**good, "schedule": "every minute"}, 422),
        ("/runs/crons", {**good, "schedule": "* * * * * *"}, 422),  # seconds are not a cron field
        ("/runs/crons", {**good, "schedule": "61 * * * *"}, 422),
        ("/runs/crons", {**good, "timezone": "Mars/Olympus_Mons"}, 422),
        ("/runs/crons", {**good, "schedule": 5}, 422),
        ("/runs/crons", {**good, "enabled": "yes"}, 422),
        ("/runs/crons", {**good, "end_time": "tomorrow"}, 422),
        ("/runs/crons", {**good, "on_run_completed": "archive"}, 422),
        ("/runs/crons", {**good, "unknown_field": 1}, 422),
        ("/runs/crons", {"schedule": "* * * * *"}, 422),
        ("/runs/crons", {**good, "assistant_id": "not-a-uuid-nor-a-graph"}, 422),
        ("/runs/crons", {**good, "assistant_id": str(uuid.uuid4())}, 404),
        ("/runs/crons", {**good, "interrupt_before": ["chat"]}, 422),  # stateful only, as for runs
        ("/runs/crons", {**good, "webhook": "ftp://example.com"}, 422),
        ("/runs/crons", {**good, "config": {"configurable": {"a": 1}}, "context": {"a": 1}}, 400),
        (f"/threads/{thread['thread_id']}/runs/crons", {**good, "on_run_completed": "keep"}, 422),
        (f"/threads/{thread['thread_id']}/runs/crons", {**good, "multitask_strategy": "later"}, 422),
        (f"/threads/{uuid.uuid4()}/runs/crons", good, 404),
        ("/threads/not-a-uuid/runs/crons", good, 422),
    ]
    for path, body, status in refused:
        response = await http.post(path, json=body)
        assert response.status_code == status, (body, response.text)
        assert isinstance(response.json()["detail"], str)
    malformed = await http.post("/runs/crons", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and "detail" in malformed.json()
    assert await client.crons.count(metadata=marker) == 0

    cron = await client.crons.create_for_thread(thread["thread_id"], "agent", schedule="0 0 * * *", metadata=marker)
    for body in (
        {"schedule": "nope"},
        {"timezone": "Nowhere/Land"},
        {"enabled": "maybe"},
        {"on_run_completed": "keep"},
        {"stream_mode": "everything"},
    ):
        response = await http.patch(f"/runs/crons/{cron['cron_id']}", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await http.get(f"/runs/crons/{cron['cron_id']}")).json() == cron, "refused patches change nothing"

    for method in ("GET", "PATCH", "DELETE"):
        missing = await http.request(method, f"/runs/crons/{uuid.uuid4()}", json={"enabled": False})
        assert missing.status_code == 404 and "not found" in missing.json()["detail"]
        invalid = await http.request(method, "/runs/crons/not-a-uuid", json={"enabled": False})
        assert invalid.status_code == 422
    assert (await http.post("/runs/crons/search", json={"thread_id": "x"})).status_code == 422
    assert (await http.post("/runs/crons/search", json={"sort_by": "schedule"})).status_code == 422
    assert (await http.post("/runs/crons/search", json={"limit": 0})).status_code == 422
    assert (await http.post("/runs/crons/count", json={"enabled": True})).status_code == 422


# -- the scheduler ----------------------------------------------------------------------


async def test_a_stateless_cron_fires_and_its_thread_is_deleted(
    backend: Backend, client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    with webhook_receiver() as receiver:
        cron = await client.crons.create("agent", schedule="* * * * *", input=USER_HI, webhook=receiver.url)
        await make_due(backend.database_url, cron["cron_id"])

        async def delivered() -> dict[str, Any] | None:
            return receiver.bodies[0] if receiver.bodies else None

        body = await eventually(delivered, "the fired run's webhook")
    assert body["status"] == "success"
    assert body["values"]["messages"][-1]["content"] == "You said: hi"
    # Fired once, and scheduled again for its next minute.
    after = await client.http.get(f"/runs/crons/{cron['cron_id']}")
    assert parse_time(after["next_run_date"]) > datetime.now(UTC) - timedelta(seconds=1)
    assert after["updated_at"] == cron["updated_at"], "firing is not an edit"

    async def thread_gone() -> bool | None:
        response = await http.get(f"/threads/{body['thread_id']}")
        return True if response.status_code == 404 else None

    await eventually(thread_gone, "the deletion of the run's thread (on_run_completed=delete)")
    assert len(receiver.bodies) == 1


async def test_a_stateless_cron_with_keep_keeps_its_thread(backend: Backend, client: LangGraphClient) -> None:
    marker = tag()
    cron = await client.crons.create(
        "agent", schedule="* * * * *", input=USER_HI, metadata=marker, on_run_completed="keep"
    )
    assert cron["on_run_completed"] == "keep"
    await make_due(backend.database_url, cron["cron_id"])

    async def kept_thread() -> dict[str, Any] | None:
        threads = await client.threads.search(metadata=marker)
        return threads[0] if threads and threads[0]["status"] == "idle" else None

    thread = await eventually(kept_thread, "a thread made by the cron")
    assert thread["values"]["messages"][-1]["content"] == "You said: hi"
    [run] = await client.runs.list(thread["thread_id"])
    assert run["status"] == "success" and run["metadata"]["test"] == marker["test"]
    await client.crons.delete(cron["cron_id"])


async def test_a_thread_cron_runs_on_its_thread(backend: Backend, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    cron = await client.crons.create_for_thread(thread["thread_id"], "agent", schedule="* * * * *", input=USER_HI)
    await make_due(backend.database_url, cron["cron_id"])
    run = await eventually(lambda: finished_run(client, thread["thread_id"]), "a run on the cron's thread")
    assert run["status"] == "success" and run["assistant_id"] == cron["assistant_id"]
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "You said: hi"
    await client.crons.delete(cron["cron_id"])


async def test_ended_and_disabled_crons_do_not_fire(backend: Backend, client: LangGraphClient) -> None:
    threads = [(await client.threads.create())["thread_id"] for _ in range(3)]
    past = datetime.now(UTC) - timedelta(minutes=1)
    ended = await client.crons.create_for_thread(threads[0], "agent", schedule="* * * * *", end_time=past)
    disabled = await client.crons.create_for_thread(threads[1], "agent", schedule="* * * * *", enabled=False)
    control = await client.crons.create_for_thread(threads[2], "agent", schedule="* * * * *", input=USER_HI)
    await make_due(backend.database_url, ended["cron_id"], disabled["cron_id"], control["cron_id"])
    # Once the control cron has fired, the scheduler has looked at the other two as well.
    await eventually(lambda: finished_run(client, threads[2]), "the control cron's run")
    for thread_id, cron in zip(threads[:2], (ended, disabled), strict=True):
        assert await client.runs.list(thread_id) == []
        still = await client.http.get(f"/runs/crons/{cron['cron_id']}")
        assert parse_time(still["next_run_date"]) < datetime.now(UTC), "not claimed either"


async def test_a_due_cron_fires_once_among_racing_schedulers(backend: Backend, client: LangGraphClient) -> None:
    """Three more claimers (own connections, as other workers would have) race the server's scheduler."""
    thread_id = (await client.threads.create())["thread_id"]
    # Once a year: no firing of its own comes due while the test runs, however slow the machine.
    cron = await client.crons.create_for_thread(thread_id, "agent", schedule="0 0 1 1 *", input=USER_HI)
    cron_id = uuid.UUID(cron["cron_id"])
    async with AsyncExitStack() as stack:
        databases = [await stack.enter_async_context(open_database(backend.database_url)) for _ in range(3)]

        async def claim(database: Database, now: datetime) -> bool:
            async with database.write() as sql:
                claimed = await crons.claim(sql, cron_id, now, now + timedelta(minutes=1))
                return claimed is not None

        await make_due(backend.database_url, cron["cron_id"])
        now = datetime.now(UTC)
        claims = await asyncio.gather(*(claim(database, now) for database in databases))
    # Our claims create no run; the server's does. Give it time to fire, if it won.
    await asyncio.sleep(1)
    runs = await client.runs.list(thread_id)
    assert sum(claims) + len(runs) == 1, (claims, runs)
