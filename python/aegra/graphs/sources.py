"""What a `graphs` entry can point at, and how each kind yields a compiled graph for one run.

- a compiled graph (`Pregel`, e.g. `CompiledStateGraph`): used as is;
- a `StateGraph`: compiled once at load;
- a factory: a sync or async function taking nothing or one `RunnableConfig`, returning a graph
  (compiled or not) or a context manager yielding one, e.g. an `@asynccontextmanager` function.
  Factories are called for every run with that run's config.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aegra.graphs.errors import GraphLoadError, GraphUnavailableError
from aegra.graphs.importing import GraphTarget, describe_exception

if TYPE_CHECKING:
    # Imported where used: a server with no graph loaded yet never pays for LangGraph's runtime.
    from langchain_core.runnables import RunnableConfig
    from langgraph.pregel import Pregel

logger = logging.getLogger(__name__)


class GraphSource(Protocol):
    @property
    def is_factory(self) -> bool: ...

    def open(self, config: RunnableConfig) -> AbstractAsyncContextManager[Pregel]: ...


@dataclass(frozen=True)
class StaticGraph:
    compiled: Pregel

    @property
    def is_factory(self) -> bool:
        return False

    @asynccontextmanager
    async def open(self, config: RunnableConfig) -> AsyncIterator[Pregel]:
        yield self.compiled


@dataclass(frozen=True)
class BrokenGraph:
    """A graph whose file failed to load while `aegra dev` reloads: every use answers its error."""

    error: str

    @property
    def is_factory(self) -> bool:
        return False

    def unavailable(self) -> GraphUnavailableError:
        return GraphUnavailableError(f"{self.error}. Fix it and save: the server reloads")

    def open(self, config: RunnableConfig) -> AbstractAsyncContextManager[Pregel]:
        raise self.unavailable()


@dataclass(frozen=True)
class GraphFactory:
    graph_id: str
    function: Callable[..., Any]
    takes_config: bool

    @property
    def is_factory(self) -> bool:
        return True

    @asynccontextmanager
    async def open(self, config: RunnableConfig) -> AsyncIterator[Pregel]:
        from langchain_core.runnables.config import var_child_runnable_config

        async with AsyncExitStack() as stack:
            # While the factory runs, `get_config()` inside it sees the run's config (as on
            # LangGraph Platform); it is reset before the graph is handed out.
            token = var_child_runnable_config.set(config)
            try:
                produced = self.function(config) if self.takes_config else self.function()
                value = await _enter(stack, produced)
            finally:
                var_child_runnable_config.reset(token)
            yield self._as_compiled(value)

    def _as_compiled(self, value: Any) -> Pregel:
        from langgraph.graph import StateGraph
        from langgraph.pregel import Pregel

        if isinstance(value, StateGraph):
            value = value.compile()
        if not isinstance(value, Pregel):
            name = getattr(self.function, "__qualname__", repr(self.function))
            raise GraphLoadError(
                f"Graph '{self.graph_id}': factory {name} returned {type(value).__name__}, not a graph"
            )
        return value


async def _enter(stack: AsyncExitStack, produced: Any) -> Any:
    """The graph inside whatever a factory returned: a context manager, an awaitable or a value."""
    if hasattr(produced, "__aenter__") and hasattr(produced, "__aexit__"):
        return await stack.enter_async_context(produced)
    if hasattr(produced, "__enter__") and hasattr(produced, "__exit__"):
        return stack.enter_context(produced)
    if inspect.isawaitable(produced):
        return await produced
    return produced


def make_source(target: GraphTarget, value: Any) -> GraphSource:
    """Classify the imported object; anything that cannot yield a graph is a `GraphLoadError`."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    if isinstance(value, Pregel):
        _warn_if_persistence_attached(target, value)
        return StaticGraph(value)
    if isinstance(value, StateGraph):
        try:
            return StaticGraph(value.compile())
        except Exception as exc:  # an invalid StateGraph (e.g. no entry point) fails to compile
            raise target.error(f"cannot compile the StateGraph: {describe_exception(exc)}") from exc
    if callable(value) and not inspect.isclass(value):
        return GraphFactory(target.graph_id, value, _takes_config(target, value))
    kind = "a class" if inspect.isclass(value) else f"of type {type(value).__name__}"
    raise target.error(f"'{target.attr}' is {kind}, not a compiled graph, a StateGraph or a graph factory")


def _warn_if_persistence_attached(target: GraphTarget, graph: Pregel) -> None:
    attached = [
        name
        for name, value in (("checkpointer", graph.checkpointer), ("store", graph.store))
        if value is not None and not isinstance(value, bool)  # True/False only steer subgraphs
    ]
    if attached:
        logger.warning(
            "Graph '%s' (%s) was compiled with its own %s; Aegra replaces it with the server's",
            target.graph_id,
            target.spec,
            " and ".join(attached),
        )


def _takes_config(target: GraphTarget, function: Callable[..., Any]) -> bool:
    """Whether to pass the run's config: factories take no argument or one `RunnableConfig`."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if len(required) > 1 or any(p.kind is p.KEYWORD_ONLY for p in required):
        names = ", ".join(p.name for p in required)
        raise target.error(f"a graph factory takes no argument or one (a RunnableConfig), not ({names})")
    return bool(positional) or any(p.kind is p.VAR_POSITIONAL for p in parameters)
