"""Fixtures of the integration tests: the server's database layer on a real SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aegra.db.engine import Database
from tests.support.database import open_database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The database layer, opened on each backend in turn (`database_url`)."""
    async with open_database(database_url) as database:
        yield database
