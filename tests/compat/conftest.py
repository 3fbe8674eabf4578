"""The official server and Aegra, side by side, once per test session (Aegra once per backend).

Both serve the same graphs (`COMPAT_GRAPHS`, from tests/graphs). Tests share each server, so
every scenario makes its own resources and searches only for what it made (by a unique
metadata mark), never assuming an empty server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.compare import deliberate_differences
from tests.compat.official import langgraph_json, official_server
from tests.compat.pair import Pair
from tests.graphs import TEST_GRAPHS_DIR
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server

# The test graphs both servers load (the official server cannot load every test graph: some
# are made to fail, or count runs in the process).
COMPAT_GRAPHS = {
    "agent": "agent.py:graph",
    "interrupting": "interrupting.py:graph",
    "subgraph_parent": "subgraph_parent.py:graph",
    "custom_schema": "custom_schema.py:graph",
    "failing": "failing.py:graph",
    "slow": "slow.py:graph",
    "store_user": "store_user.py:graph",
    "tool_agent": "tool_agent.py:graph",
    "factory": "factory.py:make_graph",
}


def _config() -> dict[str, object]:
    graphs = {graph_id: f"{TEST_GRAPHS_DIR / spec}" for graph_id, spec in COMPAT_GRAPHS.items()}
    return langgraph_json(graphs, [str(TEST_GRAPHS_DIR / "deps")])


@pytest.fixture(scope="session")
def official(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with official_server(tmp_path_factory.mktemp("official"), _config()) as running:
        yield running


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def aegra(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp(f"aegra-{request.param}")
    config = folder / "aegra.json"
    config.write_text(json.dumps(_config()))
    env = {"AEGRA_CONFIG": str(config), "DATABASE_URL": database_for(request, folder)}
    with granian_server(folder, env) as running:
        yield running


@pytest.fixture
def pair(official: RunningServer, aegra: RunningServer) -> Pair:
    return Pair(official.url, aegra.url, deliberate_differences())
