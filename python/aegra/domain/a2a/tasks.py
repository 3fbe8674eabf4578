"""A2A tasks on runs: `contextId` is a thread, a task is the run that started it (and the runs that
continued it), as in langgraph-api.

A task's id is `<thread_id>:<run_id of its first run>`, so it resolves without any storage of its
own; the runs that continue the task (answering an interrupt) carry `metadata.a2a.task_id`. The
task's state is its latest run's status, except that a run that ended on an interrupt (the
thread waits for input) is `input-required`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aegra.auth import RequestAuth
from aegra.domain.a2a.wire import CANCELED, COMPLETED, FAILED, INPUT_REQUIRED, SUBMITTED, WORKING
from aegra.domain.runs.schemas import Run
from aegra.domain.runs.services import RunService
from aegra.domain.threads.schemas import Thread
from aegra.domain.threads.services import ThreadService
from aegra.errors import AegraError

_STATES = {"pending": SUBMITTED, "running": WORKING, "success": COMPLETED, "interrupted": CANCELED,
           "error": FAILED, "timeout": FAILED}  # fmt: skip
RUN_SCAN_LIMIT = 100  # a task's latest run is looked for among its thread's newest runs


@dataclass(frozen=True)
class Task:
    task_id: str
    context_id: str
    run: Run  # the task's latest run
    state: str
    thread: Thread
    is_latest: bool  # its run is the thread's latest (so the thread's state is this task's)


def task_id_of(context_id: str, run_id: uuid.UUID | str) -> str:
    return f"{context_id}:{run_id}"


def a2a_task_id(run: Run) -> str | None:
    a2a = run.metadata.get("a2a") if isinstance(run.metadata, dict) else None
    value = a2a.get("task_id") if isinstance(a2a, dict) else None
    return value if isinstance(value, str) else None


async def resolve(runs: RunService, threads: ThreadService, task_id: str, *, context_id: str | None,
                  assistant_id: uuid.UUID, auth: RequestAuth) -> Task | None:  # fmt: skip
    """The task, if it exists, belongs to this assistant and the caller may read its thread."""
    context, _, anchor = task_id.partition(":")
    if not anchor or (context_id is not None and context_id != context):
        return None
    try:
        first = await runs.get(context, anchor, auth=auth)
        page = await runs.list(context, auth=auth, limit=RUN_SCAN_LIMIT, offset=0, status=None)
        thread = await threads.get(context, auth=auth)
    except AegraError:  # not a UUID, not found, or hidden from the caller: all "no such task"
        return None
    if first.assistant_id != assistant_id:
        return None
    latest = next((r for r in page.items if r.run_id == first.run_id or a2a_task_id(r) == task_id), first)
    is_latest = bool(page.items) and page.items[0].run_id == latest.run_id
    state = _STATES.get(latest.status, SUBMITTED)
    if latest.status == "success" and is_latest and thread.status == "interrupted":
        state = INPUT_REQUIRED  # the graph stopped on an interrupt: its question awaits an answer
    return Task(task_id, context, latest, state, thread, is_latest)


def thread_interrupts(thread: Thread) -> list[Any]:
    return [item for items in (thread.interrupts or {}).values() if isinstance(items, list) for item in items]
