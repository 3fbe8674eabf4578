"""Fixtures shared by every test layer: real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import create_database, throwaway_cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL of a PostgreSQL server (no database part): AEGRA_TEST_POSTGRES_URL, e.g.
    `postgresql://postgres:pw@127.0.0.1:5432`, or else a throwaway cluster. Each test gets
    its own database on it."""
    given = os.environ.get("AEGRA_TEST_POSTGRES_URL")
    if given:
        yield given.rstrip("/")
        return
    with throwaway_cluster() as cluster:
        yield cluster.url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database for one test."""
    return create_database(postgres_server)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'aegra.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")
