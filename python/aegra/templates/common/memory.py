"""Long-term memory: what each user said or asked to keep, in the server's store across threads.

Memories live under the namespace ("memories", <user id>), the user id coming from the run's
config (`configurable.user_id`, else the authenticated user, else "anonymous"). When the store
has semantic search (`store.index` in aegra.json) memories are embedded and recalled by meaning;
if embedding fails (e.g. the model is still being downloaded), they are still saved and listed,
just not ranked, and embedding is tried again RETRY_AFTER_SECONDS later, not on every call.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from langgraph.store.base import BaseStore

logger = logging.getLogger(__name__)

NAMESPACE = "memories"
RETRY_AFTER_SECONDS = 60.0
# When embedding last failed; until RETRY_AFTER_SECONDS later, calls skip it.
_embedding_failed_at: float | None = None


def user_namespace(config: Mapping[str, Any] | None) -> tuple[str, str]:
    configurable = (config or {}).get("configurable") or {}
    user_id = configurable.get("user_id") or configurable.get("langgraph_auth_user_id") or "anonymous"
    return (NAMESPACE, str(user_id))


async def save_memory(store: BaseStore | None, config: Mapping[str, Any] | None, text: str, **extra: Any) -> bool:
    """Store one memory (`extra`: more fields of its value); False when the graph runs without a store."""
    if store is None:
        logger.warning("no store is configured: memory is off")
        return False
    # str(): a message's `.text` is a str subclass that JSON encoders may refuse.
    namespace, key, value = user_namespace(config), uuid.uuid4().hex, {"text": str(text), **extra}
    if _embedding_works():
        try:
            await store.aput(namespace, key, value)
            return True
        except Exception as exc:  # the embedder may fail (no network, model not downloaded)
            _embedding_failed(exc)
    await store.aput(namespace, key, value, index=False)
    return True


async def recall_memories(
    store: BaseStore | None,
    config: Mapping[str, Any] | None,
    query: str,
    limit: int = 5,
    exclude: Mapping[str, Any] | None = None,
) -> list[str]:
    """The memories most related to `query` (or the latest ones, without semantic search); those
    whose value has every field of `exclude` are left out."""
    if store is None:
        return []
    namespace = user_namespace(config)
    items = None
    if _embedding_works() and query:
        try:
            items = await store.asearch(namespace, query=query, limit=limit)
        except Exception as exc:  # as above: the query embedding may fail
            _embedding_failed(exc)
    if items is None:
        items = await store.asearch(namespace, limit=limit)
    if exclude:
        items = [item for item in items if any(item.value.get(k) != v for k, v in exclude.items())]
    return [str(item.value.get("text", item.value)) for item in items]


def _embedding_works() -> bool:
    return _embedding_failed_at is None or time.monotonic() - _embedding_failed_at >= RETRY_AFTER_SECONDS


def _embedding_failed(exc: Exception) -> None:
    global _embedding_failed_at
    _embedding_failed_at = time.monotonic()
    logger.warning(
        "memory: embedding failed (%s); memories are saved and listed without semantic search for the next %.0f s",
        exc,
        RETRY_AFTER_SECONDS,
    )
