"""Runs: an index on (thread_id, status), for "the runs in flight on this thread".

Every run creation and every run's end asks it; with only (thread_id, created_at) the answer
scanned every run the thread ever had.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_runs_thread_id_status", "runs", ["thread_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_runs_thread_id_status", table_name="runs")
