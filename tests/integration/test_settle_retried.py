"""A run's settle tried again after a COMMIT whose outcome was unknown (the executor's outage
retry, domain/runs/executor.py `_settle`), when that COMMIT went through after all: the second
settle writes the same end again, and its webhook delivery once, on a real SQLite file and
PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aegra.db.engine import Database
from aegra.db.tables import runs, threads, webhook_deliveries
from aegra.domain.runs.execution import Outcome
from aegra.domain.runs.settle import Settler
from aegra.domain.webhooks.deliverer import Deliverer

OWNER = "host-a"
STATE = {"values": {"answer": 42}, "interrupts": [], "status": "success", "next": []}


async def _running_run(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    thread_id, run_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    async with db.write() as sql:
        await threads.insert(sql, {"thread_id": thread_id, "status": "busy"})
        await runs.insert(
            sql,
            {"run_id": run_id, "thread_id": thread_id, "assistant_id": uuid.uuid4(), "created_at": now,
             "updated_at": now, "status": "running", "lease_owner": OWNER, "kwargs": {}},
        )  # fmt: skip
    return run_id, thread_id


async def test_a_settle_written_twice_keeps_one_delivery_and_claims_no_second_attempt(db: Database) -> None:
    deliverer = Deliverer(db)
    settler = Settler(db=db, checkpointer=None, webhooks=deliverer)  # type: ignore[arg-type]
    run_id, thread_id = await _running_run(db)
    outcome = Outcome("success", summary=STATE)
    kwargs = {"webhook": "https://hooks.example.com/run-ended"}

    async def settle() -> object:
        async with db.write() as sql:
            return await settler.settle(
                sql, run_id, thread_id, outcome, kwargs=kwargs, lost_writes=False, owner=OWNER, now=datetime.now(UTC)
            )

    first = await settle()
    async with db.read() as sql:
        [written] = await webhook_deliveries.of_run(sql, run_id)
    assert first.delivery.attempts == 1 and written.status == "sending"  # claimed for its first attempt

    again = await settle()  # it used to fail here on the delivery's key
    assert again is not None and again.status == "success"
    assert again.delivery.attempts == 0, "the first try's claim is in the row; only the poller may send it"
    async with db.read() as sql:
        [kept] = await webhook_deliveries.of_run(sql, run_id)
        run = await runs.get(sql, run_id)
    assert kept == written
    assert run.status == "success"
