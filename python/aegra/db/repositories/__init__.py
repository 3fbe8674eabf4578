"""advanced-alchemy repositories, one module per resource: the SQL lives behind these."""

from aegra.db.repositories.assistants import AssistantRepository, AssistantVersionRepository
from aegra.db.repositories.crons import CronRepository
from aegra.db.repositories.runs import RunRepository
from aegra.db.repositories.threads import ThreadRepository

__all__ = [
    "AssistantRepository",
    "AssistantVersionRepository",
    "CronRepository",
    "RunRepository",
    "ThreadRepository",
]
