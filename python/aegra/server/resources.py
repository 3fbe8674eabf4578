"""What the server opens at startup and closes at shutdown, in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from langgraph.checkpoint.base import BaseCheckpointSaver
from litestar import Litestar
from litestar.datastructures import State

from aegra import vec
from aegra.config import Settings
from aegra.db.checkpointer import open_checkpointer
from aegra.db.engine import Database
from aegra.domain.assistants.services import AssistantService
from aegra.graphs import GraphRegistry

logger = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    graphs: GraphRegistry
    db: Database
    checkpointer: BaseCheckpointSaver
    assistants: AssistantService


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    # Import user graphs first: a broken graph file should stop startup before anything opens.
    graphs = GraphRegistry.load(settings.config, settings.base_dir)
    async with AsyncExitStack() as stack:
        db = await Database.open(settings.database)
        stack.push_async_callback(db.close)
        checkpointer = await stack.enter_async_context(open_checkpointer(settings.database))
        vec.announce()
        assistants = AssistantService(db, graphs, max_search_limit=settings.max_search_limit)
        await assistants.sync_system_assistants()
        yield Resources(settings=settings, graphs=graphs, db=db, checkpointer=checkpointer, assistants=assistants)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    async with open_resources(app.state.settings) as resources:
        app.state.resources = resources
        yield


def get_resources(state: State) -> Resources:
    """Litestar dependency: `resources: Resources` in a handler's signature."""
    return state.resources


def get_assistants(state: State) -> AssistantService:
    return state.resources.assistants
