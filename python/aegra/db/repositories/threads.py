"""SQL for threads."""

from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from aegra.db.models import Thread
from aegra.db.repositories.base import RepositoryMixin


class ThreadRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Thread]):
    model_type = Thread
    id_attribute = "thread_id"
