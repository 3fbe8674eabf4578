"""LangGraph `StateSnapshot`s as the API's `ThreadState` (the shape langgraph-sdk reads).

Field for field what langgraph-api sends: `values, next, tasks, metadata, created_at,
checkpoint, parent_checkpoint, interrupts`, plus the deprecated `checkpoint_id` and
`parent_checkpoint_id` that older clients still read.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import msgspec

from aegra.errors import Invalid
from aegra.serialization import dumps

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.types import Interrupt, StateSnapshot

STATE_FIELDS = frozenset(
    {"values", "next", "tasks", "checkpoint", "metadata", "created_at", "parent_checkpoint", "interrupts"}
)


@cache
def empty_state() -> StateSnapshot:
    """The state of a thread that has no checkpoint yet."""
    from langgraph.types import StateSnapshot

    return StateSnapshot(
        values={}, next=(), config={}, metadata=None, created_at=None, parent_config=None, tasks=(), interrupts=()
    )


def jsonable(value: Any) -> Any:
    """Plain JSON types only (messages become their `model_dump`), for JSON columns and responses."""
    return msgspec.json.decode(dumps(value))


def checkpoint_of(config: RunnableConfig | None) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    checkpoint = {"checkpoint_id": configurable["checkpoint_id"], "thread_id": configurable["thread_id"]}
    if "checkpoint_ns" in configurable:
        checkpoint["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        checkpoint["checkpoint_map"] = configurable["checkpoint_map"]
    return checkpoint


def interrupt_of(interrupt: Interrupt | dict[str, Any]) -> dict[str, Any]:
    if isinstance(interrupt, dict):
        return {"id": interrupt.get("id"), "value": interrupt.get("value")}
    return {"id": interrupt.id, "value": interrupt.value}


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    from langgraph.types import StateSnapshot

    metadata: dict[str, Any] | None = dict(snapshot.metadata) if snapshot.metadata is not None else None
    if metadata is not None and metadata.get("checkpoint_ns") == "":
        # langgraph-api leaves the root namespace out of a state's metadata.
        metadata = {k: v for k, v in metadata.items() if k != "checkpoint_ns"}
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": task.path,
                "error": task.error,
                "interrupts": [interrupt_of(i) for i in task.interrupts],
                "checkpoint": task.state["configurable"]
                if task.state is not None and not isinstance(task.state, StateSnapshot)
                else None,
                "state": thread_state(task.state) if isinstance(task.state, StateSnapshot) else None,
                "result": task.result,
            }
            for task in snapshot.tasks
        ],
        "metadata": metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint_of(snapshot.config),
        "parent_checkpoint": checkpoint_of(snapshot.parent_config),
        "interrupts": [interrupt_of(i) for i in snapshot.interrupts],
        "checkpoint_id": (snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
        "parent_checkpoint_id": (snapshot.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
    }


def thread_summary(snapshot: StateSnapshot) -> dict[str, Any]:
    """What a thread row mirrors of its latest state, so that search can filter on it."""
    return {
        "values": jsonable(snapshot.values),
        "interrupts": jsonable(
            {task.id: [interrupt_of(i) for i in task.interrupts] for task in snapshot.tasks if task.interrupts}
        ),
        # A state with nodes still to run stopped before them: an interrupt (or a state update).
        "status": "interrupted" if snapshot.next else "idle",
    }


def check_select(select: list[str] | None) -> None:
    for field in select or ():
        if field not in STATE_FIELDS and not (field.startswith("values.") and len(field) > len("values.")):
            raise Invalid(f"Invalid select field: {field!r}. Expected one of {sorted(STATE_FIELDS)} or 'values.<key>'")


def select_state(state: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Only the `select`ed fields; `values.<key>` keeps just that key of the values."""
    if not select:
        return state
    chosen = {field: state[field] for field in select if field in STATE_FIELDS}
    keys = [field.removeprefix("values.") for field in select if field.startswith("values.")]
    if keys and "values" not in chosen:
        values = state["values"] if isinstance(state["values"], dict) else {}
        chosen["values"] = {key: values[key] for key in keys if key in values}
    return chosen
