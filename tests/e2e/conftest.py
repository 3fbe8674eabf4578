"""A real Aegra server (Granian) serving the shared test graphs, once per backend per module.

Tests in a module share the server and its database, so each test makes its own resources
(fresh ids, its own metadata) rather than assuming an empty database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp(f"server-{request.param}")
    env = {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_for(request, folder)}
    with granian_server(folder, env) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> LangGraphClient:
    return get_client(url=server.url)
