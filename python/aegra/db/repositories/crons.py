"""SQL for crons."""

from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from aegra.db.models import Cron
from aegra.db.repositories.base import RepositoryMixin


class CronRepository(RepositoryMixin, SQLAlchemyAsyncRepository[Cron]):
    model_type = Cron
    id_attribute = "cron_id"
