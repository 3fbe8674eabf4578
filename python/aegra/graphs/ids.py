"""The id of the assistant Aegra creates for every configured graph."""

from __future__ import annotations

import functools
import uuid

# The namespace LangGraph Platform uses for system assistants. Clients store the resulting
# ids, so this value (and `uuid5`) must never change.
SYSTEM_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


@functools.cache  # asked on every run; graphs are few
def system_assistant_id(graph_id: str) -> uuid.UUID:
    """The stable assistant id for `graph_id`, bit-exact with LangGraph Platform."""
    return uuid.uuid5(SYSTEM_ASSISTANT_NAMESPACE, graph_id)
