"""Long-term memory: facts about each user, kept in the server's store across threads.

Memories live under the namespace ("memories", <user id>), the user id coming from the run's
config (`configurable.user_id`, else the authenticated user, else "anonymous"). When the store
has semantic search (`store.index` in aegra.json) memories are embedded; if embedding fails
(e.g. the model cannot be downloaded), they are still saved and listed, just not ranked, and
this process stops trying (a download attempt can take a minute), until it restarts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from langgraph.store.base import BaseStore

logger = logging.getLogger(__name__)

NAMESPACE = "memories"
# Why embedding failed, once it has; later calls skip it instead of waiting for another failure.
_embedding_failure: str | None = None


def user_namespace(config: Mapping[str, Any] | None) -> tuple[str, str]:
    configurable = (config or {}).get("configurable") or {}
    user_id = configurable.get("user_id") or configurable.get("langgraph_auth_user_id") or "anonymous"
    return (NAMESPACE, str(user_id))


async def save_memory(store: BaseStore | None, config: Mapping[str, Any] | None, text: str) -> bool:
    """Store one memory; False when the graph runs without a store."""
    if store is None:
        logger.warning("no store is configured: memory is off")
        return False
    namespace, key, value = user_namespace(config), uuid.uuid4().hex, {"text": text}
    if _embedding_failure is None:
        try:
            await store.aput(namespace, key, value)
            return True
        except Exception as exc:  # the embedder may fail (no network, model not downloaded)
            _embedding_failed(exc)
    await store.aput(namespace, key, value, index=False)
    return True


async def recall_memories(
    store: BaseStore | None, config: Mapping[str, Any] | None, query: str, limit: int = 5
) -> list[str]:
    """The memories most related to `query` (or the latest ones, without semantic search)."""
    if store is None:
        return []
    namespace = user_namespace(config)
    items = None
    if _embedding_failure is None and query:
        try:
            items = await store.asearch(namespace, query=query, limit=limit)
        except Exception as exc:  # as above: the query embedding may fail
            _embedding_failed(exc)
    if items is None:
        items = await store.asearch(namespace, limit=limit)
    return [str(item.value.get("text", item.value)) for item in items]


def _embedding_failed(exc: Exception) -> None:
    global _embedding_failure
    _embedding_failure = str(exc)
    logger.warning(
        "memory: embedding failed (%s); memories are saved and listed without semantic search until restart", exc
    )
