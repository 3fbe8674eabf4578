"""One database as export and import see it: the API tables, the checkpointer and the store.

Everything is opened the way the server opens it (so the target gets the server's schema and
migrations), except that the store runs without its TTL settings: no default TTL is stamped on
imported items, and no sweeper deletes items while they are being copied or counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from sqlalchemy import Table, func, insert, select

from aegra.cli.transfer.records import Key, row_key
from aegra.config import DatabaseSettings
from aegra.config_schema import StoreConfig
from aegra.db.checkpointer import open_checkpointer
from aegra.db.engine import Database
from aegra.store.factory import open_store
from aegra.store.sqlite_store import AsyncSqliteStore


@dataclass(frozen=True, slots=True)
class Backend:
    settings: DatabaseSettings
    database: Database
    saver: BaseCheckpointSaver
    store: BaseStore

    @property
    def name(self) -> str:
        return self.settings.backend

    # -- API tables ---------------------------------------------------------------------------------

    async def count_rows(self, table: Table) -> int:
        async with self.database.read_session() as session:
            return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

    async def rows(self, table: Table) -> AsyncIterator[Mapping[Any, Any]]:
        statement = select(table).order_by(*table.primary_key.columns)
        async with self.database.read_session() as session:
            async for row in await session.stream(statement):
                yield row._mapping

    async def row_keys(self, table: Table) -> set[Key]:
        statement = select(*table.primary_key.columns)
        async with self.database.read_session() as session:
            return {row_key(table, row._mapping) async for row in await session.stream(statement)}

    async def insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            async with self.database.session() as session:
                await session.execute(insert(table), rows)

    # -- checkpoints --------------------------------------------------------------------------------

    async def checkpoint_thread_ids(self) -> list[str]:
        """Every thread with checkpoints, also those without a `threads` row (LangGraph's API cannot list them)."""
        sql = "SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id"
        if self.name == "sqlite":
            conn = self.saver.conn  # type: ignore[attr-defined]
            async with conn.execute(sql) as cursor:
                return [str(row[0]) for row in await cursor.fetchall()]
        async with self.saver.conn.connection() as conn:  # type: ignore[attr-defined]
            cursor = await conn.execute(sql)
            return [str(row["thread_id"]) for row in await cursor.fetchall()]

    async def checkpoint_keys(self, thread_ids: set[str]) -> set[Key]:
        keys: set[Key] = set()
        for thread_id in thread_ids:
            async for saved in self.saver.alist({"configurable": {"thread_id": thread_id}}):
                configurable = saved.config["configurable"]
                keys.add((thread_id, configurable.get("checkpoint_ns", ""), configurable["checkpoint_id"]))
        return keys


@asynccontextmanager
async def open_backend(
    settings: DatabaseSettings, store_config: StoreConfig | None, base_dir: Path
) -> AsyncIterator[Backend]:
    # The import target needs the current schema even where the server is told not to migrate.
    settings = msgspec.structs.replace(settings, run_migrations=True)
    store_config = None if store_config is None else msgspec.structs.replace(store_config, ttl=None)
    database = await Database.open(settings)
    try:
        async with (
            open_checkpointer(settings) as saver,
            open_store(settings, store_config, base_dir, embed_waiting=False) as store,
        ):
            yield Backend(settings, database, saver, store)
    finally:
        await database.close()


def is_sqlite_store(store: BaseStore) -> bool:
    return isinstance(store, AsyncSqliteStore)
