"""Runs and threads: partial indexes for the rows in flight, and no index nobody reads.

A run's life changes its status three times and its thread's twice. Indexes on `status` over
every row turned each change into a move between two places of a large index; the partial
indexes here hold only the runs in flight and the threads that are not idle, a few hot pages.
`ix_runs_assistant_id` served no query.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = "status IN ('pending', 'running')"
NOT_IDLE = "status != 'idle'"


def upgrade() -> None:
    op.drop_index("ix_runs_assistant_id", table_name="runs")
    op.drop_index("ix_runs_thread_id_status", table_name="runs")
    op.drop_index("ix_runs_status_created_at", table_name="runs")
    op.drop_index("ix_threads_status", table_name="threads")
    op.create_index("ix_runs_in_flight_thread_id", "runs", ["thread_id"], postgresql_where=sa.text(IN_FLIGHT))
    op.create_index(
        "ix_runs_in_flight_status_created_at", "runs", ["status", "created_at"], postgresql_where=sa.text(IN_FLIGHT)
    )
    op.create_index("ix_threads_status_not_idle", "threads", ["status"], postgresql_where=sa.text(NOT_IDLE))


def downgrade() -> None:
    op.drop_index("ix_threads_status_not_idle", table_name="threads")
    op.drop_index("ix_runs_in_flight_status_created_at", table_name="runs")
    op.drop_index("ix_runs_in_flight_thread_id", table_name="runs")
    op.create_index("ix_threads_status", "threads", ["status"])
    op.create_index("ix_runs_status_created_at", "runs", ["status", "created_at"])
    op.create_index("ix_runs_thread_id_status", "runs", ["thread_id", "status"])
    op.create_index("ix_runs_assistant_id", "runs", ["assistant_id"])
