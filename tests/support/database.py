"""The server's database layer, opened from the test process (another connection, as another
worker's would be)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aegra.config import database_from_env
from aegra.db.engine import Database


@asynccontextmanager
async def open_database(database_url: str) -> AsyncIterator[Database]:
    """Opened (and migrated) from a `DATABASE_URL`, closed at the block's end."""
    database = await Database.open(database_from_env({"DATABASE_URL": database_url}, Path.cwd()))
    try:
        yield database
    finally:
        await database.close()
