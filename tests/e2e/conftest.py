"""A real Aegra server (Granian) serving the shared test graphs, once per backend per module.

Tests in a module share the server and its database, so each test makes its own resources
(fresh ids, its own metadata) rather than assuming an empty database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.server import RunningServer, serve_on_backend


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve_on_backend(request, tmp_path_factory.mktemp(f"server-{request.param}"), TEST_GRAPHS_CONFIG)


@pytest.fixture
def client(server: RunningServer) -> LangGraphClient:
    return get_client(url=server.url)
