"""New ids for threads, runs, crons and assistants: UUIDv7, as langgraph-api mints them.

Time-ordered: sorting by id is sorting by creation (clients that page by `thread_id` see the same
order as on the official server), and new rows land at the end of primary-key indexes.
"""

from __future__ import annotations

import uuid

from langchain_core.utils.uuid import uuid7


def new_id() -> uuid.UUID:
    return uuid7()
