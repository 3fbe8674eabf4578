"""Errors raised while loading graphs or looking one up."""

from __future__ import annotations

from aegra.config import ConfigError
from aegra.errors import AegraError


class GraphLoadError(ConfigError):
    """A `graphs` entry cannot be turned into a graph; the message names the entry and the cause."""


class GraphNotFoundError(LookupError):
    """No graph with this id is configured."""

    def __init__(self, graph_id: str) -> None:
        super().__init__(f"Graph '{graph_id}' is not configured")
        self.graph_id = graph_id


class GraphUnavailableError(AegraError):
    """A configured graph that failed to load (`aegra dev` keeps serving the others meanwhile)."""

    # The server is up; this graph's code is what fails, until the next save reloads it.
    status_code = 503
