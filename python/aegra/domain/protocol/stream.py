"""A thread's protocol events, run after run (`POST /threads/{thread_id}/stream/events`).

From the start of what the server still holds of the thread's protocol runs (a run's events stay
replayable for a while after it ends, domain/runs/broker.py), then live; open until the client
leaves, as langgraph-api's. A run that starts later is followed too: the thread is looked at every
POLL_SECONDS while nothing runs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from aegra.db.tables import runs as runs_table
from aegra.domain.protocol.session import PROTOCOL_MARKER, RunSession
from aegra.domain.runs.services import RunService

POLL_SECONDS = 0.25
IN_FLIGHT = ("pending", "running")


async def thread_events(runs: RunService, thread_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    followed: deque[uuid.UUID] = deque(maxlen=1000)
    while True:
        async with runs.db.read() as sql:
            recent = await runs_table.of_thread(sql, thread_id, status=None, limit=100, offset=0)
        upcoming = [
            run
            for run in reversed(recent)  # oldest first
            if run.run_id not in followed
            and (run.kwargs.get("config") or {}).get("configurable", {}).get(PROTOCOL_MARKER)
            and (run.status in IN_FLIGHT or await runs.broker.has_stream(run.run_id))
        ]
        if not upcoming:
            await asyncio.sleep(POLL_SECONDS)
            continue
        run = upcoming[0]
        followed.append(run.run_id)
        session = RunSession(run.run_id, run.kwargs["config"]["configurable"].get("graph_id", "root"))
        for event in session.start():
            yield event
        async for item in runs.broker.subscribe(run.run_id):
            for event in session.feed(item.event, item.data):
                yield event
        for event in session.end():
            yield event
