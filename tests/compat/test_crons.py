"""`client.crons`: create (stateless and on a thread), update, search, count, delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.compat.pair import Pair, Side
from tests.compat.test_threads import mark

# Far in the future and never due while the suite runs: the crons here are looked at, not fired.
YEARLY = "0 0 1 1 *"


async def test_crons(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        m = mark(s)
        c = s.sdk.crons
        tid = s.name_id((await s.sdk.threads.create())["thread_id"], "thread")
        end = datetime(2099, 1, 1, tzinfo=UTC)
        stateless = await c.create(
            "agent",
            schedule=YEARLY,
            input={"messages": []},
            metadata={"mark": m},
            end_time=end,
            timezone="Europe/Paris",
        )
        sid = s.name_id(stateless["cron_id"], "cron")
        on_thread = await c.create_for_thread(
            tid, "custom_schema", schedule=YEARLY, input={"name": "A"}, metadata={"mark": m}, enabled=False
        )
        s.name_id(on_thread["cron_id"], "cron:thread")
        out = {
            "crons.create": stateless,
            "crons.create_for_thread": on_thread,
            "crons.create.bad_schedule": await s.call(c.create("agent", schedule="not a schedule")),
            "crons.create.bad_timezone": await s.call(c.create("agent", schedule=YEARLY, timezone="Mars/Base")),
            "crons.create.unknown_assistant": await s.call(c.create(str(uuid.uuid4()), schedule=YEARLY)),
            "crons.create_for_thread.unknown_thread": await s.call(
                c.create_for_thread(str(uuid.uuid4()), "agent", schedule=YEARLY)
            ),
            "crons.search": await c.search(metadata={"mark": m}),
            "crons.search.thread": await c.search(thread_id=tid),
            "crons.search.assistant": await c.search(metadata={"mark": m}, assistant_id="agent"),
            "crons.search.enabled": await c.search(metadata={"mark": m}, enabled=False),
            "crons.search.sorted": await c.search(metadata={"mark": m}, sort_by="created_at", sort_order="asc"),
            "crons.search.select": await c.search(
                metadata={"mark": m}, select=["cron_id", "schedule"], sort_by="created_at"
            ),
            "crons.search.headers": await s.request(
                "POST", "/runs/crons/search", json={"metadata": {"mark": m}, "limit": 1}
            ),
            "crons.count": await c.count(metadata={"mark": m}),
            "crons.count.thread": await c.count(thread_id=tid),
            "crons.update": await c.update(sid, schedule="0 0 2 1 *", metadata={"v": 2}, enabled=False),
            "crons.update.end_time": await c.update(sid, end_time=datetime.now(UTC) + timedelta(days=3650)),
            "crons.update.clear_end_time": await c.update(sid, end_time=None),
            "crons.update.empty": await s.request("PATCH", f"/runs/crons/{sid}", json={}),
            "crons.update.unknown": await s.call(c.update(str(uuid.uuid4()), schedule=YEARLY)),
            "crons.get": await s.request("GET", f"/runs/crons/{sid}"),
            "crons.delete": await c.delete(sid),
            "crons.delete.again": await s.call(c.delete(sid)),
            "crons.count.after": await c.count(metadata={"mark": m}),
        }
        return out

    await pair.run(scenario)
