"""Records of the export file, one kind each: API table rows, checkpoints, store items.

Rows of the API tables (`assistants`, `assistant_versions`, `threads`, `runs`, `crons`) are
records whose kind is the table's name, with the columns under `data` (ids as UUID text, times as
ISO 8601), so a table added to the models later is exported without a change here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from advanced_alchemy.types import GUID, DateTimeUTC
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol
from sqlalchemy import Table

from aegra.cli.transfer.codec import pack, unpack
from aegra.db.models import Base, RunEvent

CHECKPOINT = "checkpoint"
STORE_ITEM = "store_item"
# Parents before children, so that foreign keys hold at every insert. A run's stream events are
# not data: kept 120 s after the run for readers in other processes (and only on PostgreSQL).
TABLES: tuple[Table, ...] = tuple(t for t in Base.metadata.sorted_tables if t.name != RunEvent.__tablename__)
TABLES_BY_KIND: dict[str, Table] = {table.name: table for table in TABLES}
KINDS: tuple[str, ...] = (*TABLES_BY_KIND, CHECKPOINT, STORE_ITEM)

Key = tuple[Any, ...]


# -- API table rows -------------------------------------------------------------------------------


def row_record(table: Table, row: Mapping[Any, Any]) -> dict[str, Any]:
    data = {column.key: _to_json(row[column.key]) for column in table.columns}
    return {"kind": table.name, "data": data}


def row_values(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    """The record's columns as the database driver wants them (UUIDs and datetimes as objects)."""
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.key not in data:
            continue  # a column the exporting Aegra did not have: let its default apply
        value = data[column.key]
        if value is not None and isinstance(column.type, GUID):
            value = uuid.UUID(value)
        elif value is not None and isinstance(column.type, DateTimeUTC):
            value = datetime.fromisoformat(value)
        values[column.key] = value
    return values


def row_key(table: Table, data: Mapping[Any, Any]) -> Key:
    """The primary key as it appears in the file (UUID text), comparable across backends."""
    return tuple(_to_json(data[column.key]) for column in table.primary_key.columns)


def _to_json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# -- checkpoints ----------------------------------------------------------------------------------


def checkpoint_record(serde: SerializerProtocol, saved: CheckpointTuple) -> dict[str, Any]:
    configurable = saved.config["configurable"]
    parent = (saved.parent_config or {}).get("configurable", {})
    return {
        "kind": CHECKPOINT,
        "thread_id": str(configurable["thread_id"]),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable["checkpoint_id"],
        "parent_checkpoint_id": parent.get("checkpoint_id"),
        "checkpoint": pack(serde, saved.checkpoint),
        "metadata": pack(serde, saved.metadata),
        # In the saver's read order; task paths are not part of LangGraph's read API, so they do not travel.
        "writes": [
            {"task_id": task_id, "channel": channel, "value": pack(serde, value)}
            for task_id, channel, value in saved.pending_writes or ()
        ],
    }


def checkpoint_key(record: Mapping[str, Any]) -> Key:
    return (record["thread_id"], record["checkpoint_ns"], record["checkpoint_id"])


@dataclass(frozen=True, slots=True)
class CheckpointToLoad:
    """A checkpoint record decoded into what `aput` / `aput_writes` take."""

    config: RunnableConfig  # thread, namespace and the *parent* id: `aput` links the new checkpoint to it
    checkpoint: Any
    metadata: Any
    writes_by_task: dict[str, list[tuple[str, Any]]]

    @classmethod
    def from_record(cls, serde: SerializerProtocol, record: Mapping[str, Any]) -> CheckpointToLoad:
        configurable = {"thread_id": record["thread_id"], "checkpoint_ns": record["checkpoint_ns"]}
        if record.get("parent_checkpoint_id"):
            configurable["checkpoint_id"] = record["parent_checkpoint_id"]
        writes_by_task: dict[str, list[tuple[str, Any]]] = {}
        for write in record.get("writes", ()):
            writes_by_task.setdefault(write["task_id"], []).append((write["channel"], unpack(serde, write["value"])))
        return cls(
            config={"configurable": configurable},
            checkpoint=unpack(serde, record["checkpoint"]),
            metadata=unpack(serde, record["metadata"]),
            writes_by_task=writes_by_task,
        )

    def own_config(self) -> RunnableConfig:
        """The config that names this checkpoint, for its pending writes."""
        configurable = {**self.config["configurable"], "checkpoint_id": self.checkpoint["id"]}
        return {"configurable": configurable}


# -- store items ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One store item with everything the store keeps about it besides vectors."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    ttl_minutes: float | None
    # The put's own `index` (None: the store's fields; False: not embedded; else field paths).
    index: Literal[False] | list[str] | None

    @property
    def item_key(self) -> Key:
        return store_item_key(self.namespace, self.key)

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": STORE_ITEM,
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "ttl_minutes": self.ttl_minutes,
            "index": self.index,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StoredItem:
        expires_at = record.get("expires_at")
        return cls(
            namespace=tuple(record["namespace"]),
            key=record["key"],
            value=record["value"],
            created_at=datetime.fromisoformat(record["created_at"]),
            updated_at=datetime.fromisoformat(record["updated_at"]),
            expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
            ttl_minutes=record.get("ttl_minutes"),
            index=record.get("index"),
        )


def store_item_key(namespace: Sequence[str], key: str) -> Key:
    return (*namespace, "\0", key)  # "\0" ends the namespace: no label holds it, so keys never collide
