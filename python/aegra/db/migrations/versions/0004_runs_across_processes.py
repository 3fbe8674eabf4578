"""Runs shared by many processes: leases, cancel requests across processes, and stream events.

A running run is held by one process (`lease_owner`) until `lease_expires_at`, renewed while it
runs; a run whose lease ran out is taken over by another process. A cancel of a run that runs
elsewhere is recorded on the run (`cancel_requested`) for its process. `run_events` carries a
run's stream to readers in other processes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("lease_owner", sa.String(64)))
    op.add_column("runs", sa.Column("lease_expires_at", sa.DateTime(timezone=True)))
    op.add_column("runs", sa.Column("cancel_requested", sa.String(16)))
    op.create_table(
        "run_events",
        sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_run_events_ended", "run_events", ["created_at"], postgresql_where=sa.text("event = '__end__'"))


def downgrade() -> None:
    op.drop_index("ix_run_events_ended", table_name="run_events")
    op.drop_table("run_events")
    op.drop_column("runs", "cancel_requested")
    op.drop_column("runs", "lease_expires_at")
    op.drop_column("runs", "lease_owner")
