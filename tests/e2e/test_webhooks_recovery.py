"""Webhooks across crashes, restarts and processes (docs/webhooks.md), on SQLite and PostgreSQL.

- kill -9 of the server after the run settled, while the receiver has not answered yet: after
  the restart the delivery arrives again with the same `webhook-id`, and nothing else arrives;
- a server restarted with a stricter policy refuses, at send time, a delivery it once allowed;
- two processes on one PostgreSQL database: every attempt is made by one of them;
- `webhooks.unsigned`, and finished deliveries removed after the retention window;
- without a secret, the warning comes at the first delivery, once, not at startup.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_webhooks import NEW_SECRET, USER_HI, webhooks_config
from tests.support.projects import graphs_project
from tests.support.server import RunningServer, granian_server
from tests.support.webhook_receiver import webhook_receiver


def environment(folder: Path, database_url: str, **webhooks: Any) -> dict[str, str]:
    config = graphs_project(folder, webhooks=webhooks_config(**webhooks))
    return {"AEGRA_CONFIG": str(config), "DATABASE_URL": database_url}


def start_run(server: RunningServer, webhook: str) -> tuple[str, str]:
    thread = httpx.post(f"{server.url}/threads", json={}).json()["thread_id"]
    body = {"assistant_id": "agent", "input": USER_HI, "webhook": webhook}
    run = httpx.post(f"{server.url}/threads/{thread}/runs", json=body)
    assert run.status_code == 200, run.text
    return thread, run.json()["run_id"]


def settled_delivery(server: RunningServer, thread_id: str, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        found = httpx.get(f"{server.url}/threads/{thread_id}/runs/{run_id}/webhooks").json()
        if found and found[0]["status"] in ("delivered", "failed"):
            return found[0]  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"the delivery did not settle: {found}")


def test_a_delivery_cut_short_by_kill_9_arrives_after_the_restart(tmp_path: Path, database_url: str) -> None:
    # The secret comes from the environment this time (it wins over the config's).
    env = {**environment(tmp_path, database_url, signing_secret=None), "AEGRA_WEBHOOK_SECRET": NEW_SECRET}
    with webhook_receiver(hold=True) as receiver:
        with granian_server(tmp_path, env) as server:
            thread_id, run_id = start_run(server, receiver.at("localhost"))
            receiver.wait_for(1)  # the run has settled and its webhook is being sent...
            server.kill()  # ...and the process dies before the receiver answers
        receiver.release()
        with granian_server(tmp_path, env) as server:
            received = receiver.wait_for(2, timeout=30)
            delivery = settled_delivery(server, thread_id, run_id)
            time.sleep(1.5)  # longer than the poll and a retry's wait: nothing more comes
    assert len(receiver.received) == 2
    assert {request.webhook_id for request in received} == {delivery["webhook_id"]}
    assert [request.verify(NEW_SECRET)["run_id"] for request in received] == [run_id, run_id]
    assert delivery["status"] == "delivered"
    lost, delivered = delivery["attempts"]
    assert lost["attempt"] == 1 and lost["started_at"] is None and "stopped" in lost["error"]
    assert delivered["attempt"] == 2 and delivered["status_code"] == 200


def test_a_host_allowed_at_creation_is_refused_at_send_time(tmp_path: Path, database_url: str) -> None:
    """The policy is applied again at each attempt: here the server comes back with a config that
    no longer allows the receiver's host, and the pending delivery is refused, not fetched."""
    allowing = environment(tmp_path / "before", database_url)
    refusing = environment(tmp_path / "after", database_url, allowed_hosts=[])
    with webhook_receiver(hold=True) as receiver:
        with granian_server(tmp_path, allowing) as server:
            thread_id, run_id = start_run(server, receiver.at("localhost"))
            receiver.wait_for(1)
            server.kill()
        receiver.release()
        with granian_server(tmp_path, refusing) as server:
            delivery = settled_delivery(server, thread_id, run_id)
            time.sleep(1.0)
    assert len(receiver.received) == 1
    assert delivery["status"] == "failed"
    assert delivery["attempts"][-1]["error"] == "Webhook host blocked: localhost address"


@pytest.mark.postgres
def test_two_processes_on_one_database_send_each_attempt_once(tmp_path: Path, postgres_url: str) -> None:
    """Two servers on one PostgreSQL database, each looking for due deliveries every 50 ms: every
    delivery's first attempt fails, its retry comes due for both to claim, and still each attempt
    is made once (`FOR UPDATE SKIP LOCKED`)."""
    env = environment(tmp_path, postgres_url, poll_seconds=0.05, retry_delays_seconds=[0.3, 0.3, 0.3])
    runs = 24
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with (
        webhook_receiver(fail_first=1) as receiver,
        granian_server(tmp_path / "a", env) as first,
        granian_server(tmp_path / "b", env) as second,
    ):
        for index in range(runs):
            start_run(first if index % 2 else second, receiver.at("localhost"))
        receiver.wait_for(2 * runs, timeout=60)
        time.sleep(1.5)
    per_delivery = collections.Counter(request.webhook_id for request in receiver.received)
    assert len(per_delivery) == runs
    assert set(per_delivery.values()) == {2}, per_delivery


def test_unsigned_deliveries_and_retention(tmp_path: Path, database_url: str) -> None:
    env = environment(tmp_path, database_url, unsigned=True, retention_hours=0.0005)  # 1.8 s
    with webhook_receiver() as receiver, granian_server(tmp_path, env) as server:
        thread_id, run_id = start_run(server, receiver.at("localhost"))
        [request] = receiver.wait_for(1)
        delivery = settled_delivery(server, thread_id, run_id)
        assert "webhook-signature" not in request.headers
        assert request.webhook_id == delivery["webhook_id"] and request.headers["webhook-timestamp"]
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.url}/threads/{thread_id}/runs/{run_id}/webhooks").json():
            assert time.monotonic() < deadline, "the delivered webhook outlived its retention"
            time.sleep(0.2)


UNSIGNED_WARNING = "webhooks are sent unsigned"


def test_no_secret_is_warned_about_at_the_first_delivery_only(tmp_path: Path, database_url: str) -> None:
    env = environment(tmp_path, database_url, signing_secret=None)
    with webhook_receiver() as receiver, granian_server(tmp_path, env) as server:
        assert UNSIGNED_WARNING not in server.log()  # a project that sends no webhooks hears nothing
        for _ in range(2):
            thread_id, run_id = start_run(server, receiver.at("localhost"))
            assert settled_delivery(server, thread_id, run_id)["status"] == "delivered"
        assert all("webhook-signature" not in request.headers for request in receiver.received)
        assert server.log().count(UNSIGNED_WARNING) == 1
