"""Runs: the `traceparent` of the request that created each, for the run's trace to link to.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("traceparent", sa.String(256)))


def downgrade() -> None:
    op.drop_column("runs", "traceparent")
