"""Webhook deliveries: the outbox of run webhooks, written in the transaction that settles the run.

Each row is one run's webhook, keyed by the run's id: its body, whether it is pending, being sent
(under a lease), delivered or failed, and the attempts made (docs/webhooks.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTSTANDING = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("run_id", UUID(as_uuid=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", JSONB(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history", JSONB(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_outstanding_due_at",
        "webhook_deliveries",
        ["due_at"],
        postgresql_where=sa.text(OUTSTANDING),
    )
    op.create_index("ix_webhook_deliveries_created_at", "webhook_deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
