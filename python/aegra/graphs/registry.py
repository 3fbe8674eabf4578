"""The graphs named in the config file, imported once at startup and handed out per run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aegra.config_schema import AegraConfig
from aegra.graphs.errors import GraphLoadError, GraphNotFoundError
from aegra.graphs.importing import add_dependencies_to_sys_path, import_target, parse_target
from aegra.graphs.sources import BrokenGraph, GraphSource, make_source

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.pregel import Pregel
    from langgraph.store.base import BaseStore

logger = logging.getLogger(__name__)

# The name `StateGraph.compile()` gives a graph when the user names none.
_DEFAULT_GRAPH_NAME = "LangGraph"


@dataclass(frozen=True)
class GraphEntry:
    graph_id: str
    description: str | None
    source: GraphSource


class GraphRegistry:
    """Every configured graph by id. Build it with `GraphRegistry.load(config, base_dir)`."""

    def __init__(self, entries: Mapping[str, GraphEntry]) -> None:
        self._entries = dict(entries)

    @classmethod
    def load(cls, config: AegraConfig, base_dir: Path, *, keep_broken: bool = False) -> GraphRegistry:
        """Put `dependencies` on `sys.path`, then import every graph; raises `GraphLoadError`.

        `keep_broken` (`aegra dev` while it reloads): a graph that fails to load is logged in one
        line and kept as a `BrokenGraph`, which answers that error; the others load as usual.
        """
        dependency_dirs = add_dependencies_to_sys_path(config.dependencies, base_dir)
        entries: dict[str, GraphEntry] = {}
        for graph_id, spec in config.graph_specs().items():
            source: GraphSource
            try:
                target = parse_target(graph_id, spec.path, base_dir)
                source = make_source(target, import_target(target, dependency_dirs))
            except GraphLoadError as exc:
                if not keep_broken:
                    raise
                logger.error("%s", exc)
                source = BrokenGraph(str(exc))
            entries[graph_id] = GraphEntry(graph_id, spec.description, source)
        return cls(entries)

    @property
    def graph_ids(self) -> list[str]:
        """In config file order."""
        return list(self._entries)

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._entries

    def description(self, graph_id: str) -> str | None:
        return self._entry(graph_id).description

    def is_factory(self, graph_id: str) -> bool:
        return self._entry(graph_id).source.is_factory

    def require_loaded(self, graph_id: str) -> None:
        """Raise `GraphUnavailableError` (with its load error) if the graph failed to load."""
        source = self._entry(graph_id).source
        if isinstance(source, BrokenGraph):
            raise source.unavailable()

    @asynccontextmanager
    async def graph(
        self,
        graph_id: str,
        config: RunnableConfig | Mapping[str, Any] | None = None,
        *,
        checkpointer: BaseCheckpointSaver | None = None,
        store: BaseStore | None = None,
    ) -> AsyncIterator[Pregel]:
        """A compiled graph for one run (or one schema/drawing call), persistence bound.

        A factory is called with `config` (default `{"configurable": {}}`); a context-manager
        factory stays open until this block exits. The yielded graph is a copy: binding the
        checkpointer and store never changes the shared compiled graph.
        """
        source = self._entry(graph_id).source
        async with source.open(_config_for_factory(config)) as compiled:
            yield bind_persistence(compiled, graph_id, checkpointer=checkpointer, store=store)

    def _entry(self, graph_id: str) -> GraphEntry:
        try:
            return self._entries[graph_id]
        except KeyError:
            raise GraphNotFoundError(graph_id) from None


def bind_persistence(
    compiled: Pregel,
    graph_id: str,
    *,
    checkpointer: BaseCheckpointSaver | None,
    store: BaseStore | None,
) -> Pregel:
    """A copy of `compiled` with this server's checkpointer and store, named after its graph id."""
    update: dict[str, Any] = {
        "checkpointer": checkpointer,
        "store": store,
        # `Pregel.copy` is shallow; runs write into config dicts (metadata), so give each copy its own.
        "config": _detached_config(compiled.config),
    }
    if compiled.name == _DEFAULT_GRAPH_NAME:
        update["name"] = graph_id
    return compiled.copy(update=update)


def _config_for_factory(config: RunnableConfig | Mapping[str, Any] | None) -> RunnableConfig:
    """A copy of `config` with a `configurable` dict, so a factory may read or fill it freely."""
    given: dict[str, Any] = dict(config or {})
    return cast("RunnableConfig", {**given, "configurable": dict(given.get("configurable") or {})})


def _detached_config(config: RunnableConfig | None) -> RunnableConfig | None:
    if config is None:
        return None
    detached: dict[str, Any] = {
        key: dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
        for key, value in config.items()
    }
    return cast("RunnableConfig", detached)
