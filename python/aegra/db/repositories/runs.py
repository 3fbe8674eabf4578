"""SQL for runs."""

from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from aegra.db.models import Run
from aegra.db.repositories.base import RepositoryMixin


class RunRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Run]):
    model_type = Run
    id_attribute = "run_id"
